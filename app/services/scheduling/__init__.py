"""The scheduler's jobs, its lease, and the retention purge."""
