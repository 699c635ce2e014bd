"""Domain logic: plain functions over the database session.

No `request`, no commit: routes, CLI commands, scheduler jobs and tests call
the same functions and decide themselves when to commit. Every function that
decides something by time takes `now`.
"""
