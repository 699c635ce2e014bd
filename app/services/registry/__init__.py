"""The live registry: regions, organisations, facilities, capacity kinds and units,
counts and their history, intake hours, places, import/export, stale reminders."""
