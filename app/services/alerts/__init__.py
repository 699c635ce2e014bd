"""Alerts: rules, evaluation and acknowledgement, the daily digest."""
