"""Placement: search criteria and ranking, holds, referrals, turn-aways."""
