"""full-text index over search_docs.terms: FTS5 on SQLite, GIN on PostgreSQL

``terms`` already holds the stems (hearing.search.stems), so PostgreSQL reads it with the
'simple' configuration (lower case, no stop words, no stemming of its own: its 'russian'
configuration would stem the stems again and knows no Kazakh). The vector is a stored generated
column, terms_vector = to_tsvector('simple', terms), with the GIN index on it: ranking then reads
each matched row's vector instead of parsing its terms again (bench/search.py: several times
less CPU for a common word). The models leave it out (inserts never name it).

SQLite keeps an external-content FTS5 table in step with search_docs by triggers. A later
migration that rebuilds search_docs on SQLite (batch mode copies the table) must create the
triggers again.

Revision ID: 0004
Revises: 0003
"""
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE search_fts USING fts5(terms, content='search_docs', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER search_docs_fts_insert AFTER INSERT ON search_docs BEGIN "
    "INSERT INTO search_fts(rowid, terms) VALUES (new.id, new.terms); END",
    "CREATE TRIGGER search_docs_fts_delete AFTER DELETE ON search_docs BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, terms) VALUES ('delete', old.id, old.terms); END",
    "CREATE TRIGGER search_docs_fts_update AFTER UPDATE OF terms ON search_docs BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, terms) VALUES ('delete', old.id, old.terms); "
    "INSERT INTO search_fts(rowid, terms) VALUES (new.id, new.terms); END",
    "INSERT INTO search_fts(search_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER search_docs_fts_update",
    "DROP TRIGGER search_docs_fts_delete",
    "DROP TRIGGER search_docs_fts_insert",
    "DROP TABLE search_fts",
]
POSTGRES_UP = [
    "ALTER TABLE search_docs ADD COLUMN terms_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, terms)) STORED",
    "CREATE INDEX ix_search_docs_terms_fts ON search_docs USING gin (terms_vector)",
]
POSTGRES_DOWN = ["DROP INDEX ix_search_docs_terms_fts",
                 "ALTER TABLE search_docs DROP COLUMN terms_vector"]


def _run(statements: list[str]) -> None:
    for sql in statements:
        op.execute(sql)


def upgrade() -> None:
    _run(SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP)


def downgrade() -> None:
    _run(SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN)
