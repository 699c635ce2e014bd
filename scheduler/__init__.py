"""The scheduler process: `python -m scheduler` (the Procfile's `scheduler`)."""
