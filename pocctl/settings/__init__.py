"""Settings: flags > env > pocctl.toml > the deployed stack's record > defaults (resolve.py), and
reading that record back (record.py)."""
