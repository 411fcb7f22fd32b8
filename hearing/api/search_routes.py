"""Search over signed stenograms, evidence transcripts and case records."""

from __future__ import annotations

from hearing.api.context import Call
from hearing.api.registry import MAX_ID, endpoint, schema
from hearing.api.schemas import INT, OPT_INT, OPT_STR, STR, record
from hearing.models import SEARCH_KINDS
from hearing.paging import NEXT_CURSOR, PAGE_QUERY
from hearing.search.query import LIMITS
from hearing.services import search

SNIPPET_PART = record("SearchSnippetPart", {"text": STR, "mark": {"type": "boolean"}})
SEARCH_RESULT = record("SearchResult", {
    "kind": {"enum": list(SEARCH_KINDS)}, "case_id": INT, "case_number": STR,
    "hearing_id": OPT_INT, "version": OPT_INT, "clock_ms": OPT_INT, "language": OPT_STR,
    "snippet": {"type": "array", "items": SNIPPET_PART},
    "links": record("SearchLinks", {"case": STR, "hearing": OPT_STR, "segment": OPT_STR,
                                    "moment": OPT_STR})})
SEARCH_RESULTS = schema("SearchResults", {
    "type": "object", "required": ["results", "next_cursor"],
    "properties": {"results": {"type": "array", "items": SEARCH_RESULT},
                   "next_cursor": NEXT_CURSOR}})
SEARCH_QUERY = {
    "q": {"type": "string", "maxLength": LIMITS.max_chars,
          "description": "words to find, in any form (Russian and Kazakh); "
                         f"the first {LIMITS.max_terms} are searched for"},
    "case_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "kind": {"enum": list(SEARCH_KINDS)},
    **PAGE_QUERY,
}


@endpoint("GET", "/api/search", summary="Search signed stenograms, evidence transcripts and "
          "case records of the caller's cases, best match first", auth="account",
          tag="search", query=SEARCH_QUERY, response=SEARCH_RESULTS)
async def search_records(call: Call, query: dict) -> dict:
    return await search.search(call.state, call.me, query.get("q", ""),
                               case_id=query.get("case_id"), kind=query.get("kind"),
                               cursor=query.get("cursor"),
                               limit=query.get("limit", search.DEFAULT_LIMIT))
