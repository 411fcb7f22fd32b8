"""Electronic courtroom server: wiring, API, lifecycle, auth, database, CLI."""
