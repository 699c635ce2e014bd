"""Delivery: the outbox and notices to users by their channel."""
