"""Reference geography shipped with the app: the postcode table (postcodes.csv) and the script that builds it."""
