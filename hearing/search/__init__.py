"""Full-text search over signed stenograms, evidence transcripts and case records: word stems
(`stems`), the database's full-text index (`fts`: FTS5 on SQLite, GIN on PostgreSQL), keeping
the index in step with the record (`index`) and finding, access-checked per case (`query`)."""
