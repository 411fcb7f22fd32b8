"""Cursor paging for every list: keyset on a row's integer id, so a page is stable while rows
are added, and a cursor is opaque to clients (they pass back what they were given)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

from hearing.errors import bad_request

T = TypeVar("T")

#: Page size when the client gives none, and the most one page may hold.
DEFAULT_LIMIT = 100
MAX_LIMIT = 500

#: Query parameters every list endpoint declares (hearing.api.registry `query=`).
PAGE_QUERY: dict[str, dict] = {
    "cursor": {"type": "string", "maxLength": 200,
               "description": "next_cursor of the previous page; absent for the first"},
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
              "description": f"rows per page (default {DEFAULT_LIMIT})"},
}
#: The part every paged answer adds beside its list.
NEXT_CURSOR = {"type": ["string", "null"]}


@dataclass(frozen=True)
class PageRequest:
    after: int | None = None
    limit: int = DEFAULT_LIMIT
    descending: bool = False

    @classmethod
    def from_query(cls, query: dict[str, Any], descending: bool = False) -> "PageRequest":
        return cls(decode_cursor(query.get("cursor")), int(query.get("limit", DEFAULT_LIMIT)),
                   descending)


def encode_cursor(last_id: int) -> str:
    raw = json.dumps({"after": last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        after = json.loads(raw)["after"]
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise ValueError
        return after
    except (ValueError, KeyError, TypeError):
        raise bad_request("cursor: not a cursor this server gave", field="cursor") from None


def page(s: Session, q: Select, id_column: Any, req: PageRequest,
         render: Callable[[Any], T]) -> tuple[list[T], str | None]:
    """One page of ``q`` (a select of ORM rows) in id order, and the cursor of the next page
    (None on the last)."""
    if req.after is not None:
        q = q.where(id_column < req.after if req.descending else id_column > req.after)
    q = q.order_by(id_column.desc() if req.descending else id_column.asc())
    rows = list(s.execute(q.limit(req.limit + 1)).scalars())
    more = len(rows) > req.limit
    rows = rows[:req.limit]
    next_cursor = encode_cursor(rows[-1].id) if more and rows else None
    return [render(r) for r in rows], next_cursor
