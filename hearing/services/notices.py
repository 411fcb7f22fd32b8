"""Notices to the people of a case: queued in the transaction of the event they announce.
(Delivery, retries and status are filled in by the notices runtime.)"""

from __future__ import annotations

from hearing.models import Hearing, NoticeKind, Participant
from hearing.transaction import Tx


def hearing_event(tx: Tx, h: Hearing, kind: NoticeKind, *, participant: Participant | None = None,
                  link: str | None = None) -> None:
    """Queue a notice of ``kind`` about hearing ``h`` to everyone it concerns (for "invited":
    the one participant, with their join link)."""
    return None
