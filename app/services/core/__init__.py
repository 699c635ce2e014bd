"""The small shared core: who may do what, audit, errors, field validation, rate limits."""
