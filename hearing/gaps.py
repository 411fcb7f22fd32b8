"""Gaps in a hearing's audio as the record keeps them: each one a hearing-clock span of one
source, with its reason ("muted", "disconnected", "lost"). While the hearing runs they are
the gaps its owner saw (audit action ``gap``: a row when one opens, end_ms null, and one when
it closes); once a source's recording is finalised, the silent spans of that recording
(``Recording.gaps``), each named by the gap seen live that overlaps it, and the gaps seen
live that are no silent span of the file (one that lasted until the source's end, where the
file just stops)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hearing.models import AuditEvent, Recording
from media.seat_recorder import source_of_recording


#: a gap seen live shorter than this, that the file does not show, is left out
MIN_SEEN_MS = 1000


def recording_gaps(spans: list, known: list[dict], end_ms: int) -> list[dict]:
    """The gaps of a finalised recording: its silent spans ([start_ms, end_ms]), each with
    the reason of the gap seen live that overlaps it most ("lost" when none did: packets that
    never came), and the gaps seen live (``known``) that overlap no span, such as one that
    lasted until the recording's end (``end_ms``: where one still open ends)."""
    def overlap(g: dict, start: int, end: int) -> int:
        g_end = g["end_ms"] if g.get("end_ms") is not None else max(end, end_ms)
        return min(end, g_end) - max(start, g["start_ms"])
    out = []
    for start, end in spans:
        best, most = "lost", 0
        for g in known:
            if overlap(g, start, end) > most:
                best, most = g["reason"], overlap(g, start, end)
        out.append({"start_ms": int(start), "end_ms": int(end), "reason": best})
    for g in known:
        g_end = int(g["end_ms"]) if g.get("end_ms") is not None else max(end_ms, g["start_ms"])
        if (g_end - g["start_ms"] >= MIN_SEEN_MS
                and not any(overlap(g, s, e) > 0 for s, e in spans)):
            out.append({"start_ms": int(g["start_ms"]), "end_ms": g_end, "reason": g["reason"]})
    return sorted(out, key=lambda g: g["start_ms"])


def seen_gaps(s: Session, hearing_id: int, source_id: str | None = None) -> list[dict]:
    """The gaps written to the audit log while the hearing ran (the last row of each: an
    open one is followed by its close), of one source or all."""
    found: dict[tuple[str, int], dict] = {}
    for data in s.execute(select(AuditEvent.data).where(
            AuditEvent.hearing_id == hearing_id, AuditEvent.action == "gap")
            .order_by(AuditEvent.seq)).scalars():
        if source_id is None or data.get("source_id") == source_id:
            found[(str(data.get("source_id")), int(data["start_ms"]))] = {
                "source_id": str(data.get("source_id")), "start_ms": int(data["start_ms"]),
                "end_ms": data.get("end_ms"), "reason": str(data.get("reason", "lost"))}
    return list(found.values())


def hearing_gaps(s: Session, hearing_id: int, live: list[dict] | None = None) -> list[dict]:
    """Every gap of the hearing in time order: a finalised recording's own, else those seen
    live (``live``: what the owner holds now, open gaps included, newer than its audit rows)."""
    recorded: dict[str, list[dict]] = {}
    for r in s.execute(select(Recording).where(Recording.hearing_id == hearing_id)
                       .order_by(Recording.id)).scalars():
        source = source_of_recording(r.source_id)
        recorded[source] = [{"source_id": source, **g} for g in r.gaps or []]
    seen = {(g["source_id"], g["start_ms"]): g for g in seen_gaps(s, hearing_id)}
    seen.update({(g["source_id"], g["start_ms"]): g for g in live or ()})
    out = [g for gaps in recorded.values() for g in gaps]
    out += [g for (source, _), g in seen.items() if source not in recorded]
    return sorted(out, key=lambda g: (g["start_ms"], g["source_id"]))
