"""Daily statistics that outlive the detail (PRODUCT.md, "Daily statistics").

One module per statistic, each with its NAME, the RETENTION_KEYS of the
detail it reads that the purge blanks, and `compute_day(day, now)`, which
replaces that day's rows (idempotent). `daily` lists them: its job keeps
today's rows current and finalises the days past, and `rebuild` computes a
period again, skipping the days whose detail the purge has removed. `days`
holds what they share.
"""
