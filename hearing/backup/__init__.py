"""The parts of a backup that are not the court's workflow: the database dump and restore
(SQLite's online backup API, or pg_dump/pg_restore), the manifest and the file copies that
hash what they copy. The order in which they run is ``hearing/services/backup.py``'s."""
