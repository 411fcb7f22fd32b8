"""The database's full-text index over ``search_docs.terms`` (made by migration 0004): an
FTS5 table ranked by bm25 on SQLite; on PostgreSQL the stored column terms_vector =
to_tsvector('simple', terms) with a GIN index, ranked by ts_rank. Query words arrive as stems
(hearing.search.stems), which hold only letters and digits, and each is quoted besides, so
nothing a user types is read as query syntax."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, column, func, literal, literal_column, table

from hearing.models import SearchDoc

#: What migration 0004 adds outside the models (the FTS5 table and its shadow tables; the
#: PostgreSQL vector column and its index): the models-vs-migrations comparison leaves
#: exactly these out.
INDEX_OBJECTS = frozenset({"search_fts", "search_fts_data", "search_fts_idx",
                           "search_fts_docsize", "search_fts_config",
                           "terms_vector", "ix_search_docs_terms_fts"})

Groups = list[tuple[str, ...]]
_FTS = table("search_fts", column("rowid"))
_SIMPLE = literal_column("'simple'::regconfig")
_VECTOR = literal_column("search_docs.terms_vector")


def _quoted(stem: str, quote: str) -> str:
    return quote + stem.replace(quote, quote * 2) + quote


def fts5_query(groups: Groups) -> str:
    """FTS5 MATCH text: every group, any stem of a group, each a quoted string."""
    return " AND ".join("(" + " OR ".join(_quoted(t, '"') for t in g) + ")" for g in groups)


def tsquery(groups: Groups) -> str:
    """to_tsquery text of the same meaning."""
    return " & ".join("(" + " | ".join(_quoted(t, "'") for t in g) + ")" for g in groups)


def matching(q: Select, dialect: str, groups: Groups) -> tuple[Select, ColumnElement]:
    """``q`` (a select over SearchDoc) narrowed to the documents that match, and their rank
    as an expression to order by ascending (best first)."""
    if dialect == "sqlite":
        q = q.join(_FTS, _FTS.c.rowid == SearchDoc.id).where(
            literal_column("search_fts").op("MATCH")(literal(fts5_query(groups))))
        return q, func.bm25(literal_column("search_fts"))
    query = func.to_tsquery(_SIMPLE, literal(tsquery(groups)))
    return q.where(_VECTOR.op("@@")(query)), -func.ts_rank(_VECTOR, query)
