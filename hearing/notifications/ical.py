"""The calendar side of a notice: one iCalendar event per hearing (UID hearing-<id>@<host>),
sent as METHOD:REQUEST when scheduled or moved (SEQUENCE rising with each change, so calendar
programs replace the earlier version) and METHOD:CANCEL when cancelled (RFC 5546)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from icalendar import Calendar, Event, vCalAddress

from hearing.models import NoticeKind
from hearing.notifications.texts import HearingFacts

PRODID = "-//courtroom//hearing notices//KK-RU"


def event_uid(hearing_id: int, host: str) -> str:
    return f"hearing-{hearing_id}@{host}"


def method(kind: NoticeKind) -> str:
    return "CANCEL" if kind == "cancelled" else "REQUEST"


#: Stands for the recipient in an event rendered once for everyone it goes to.
ATTENDEE_SLOT = "ATTENDEE;ROLE=REQ-PARTICIPANT;RSVP=FALSE:mailto:attendee@invalid"


def invitation(kind: NoticeKind, uid: str, sequence: int, facts: HearingFacts,
               duration_min: int, summary: str, organizer: str) -> str:
    """The .ics text of one event, its attendee left as a slot (``for_attendee`` fills it):
    rendering once per event, not per recipient (call only when the hearing has a time)."""
    assert facts.scheduled_at is not None
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method(kind))
    ev = Event()
    ev.add("uid", uid)
    ev.add("sequence", sequence)
    ev.add("dtstamp", datetime.now(timezone.utc))
    start = facts.scheduled_at.astimezone(timezone.utc)
    ev.add("dtstart", start)
    ev.add("dtend", start + timedelta(minutes=max(duration_min, 1)))
    ev.add("summary", summary)
    ev.add("description", f"{facts.case_number}: {facts.title}")
    if facts.courtroom:
        ev.add("location", facts.courtroom)
    ev.add("status", "CANCELLED" if kind == "cancelled" else "CONFIRMED")
    ev.add("organizer", vCalAddress(f"mailto:{organizer}"))
    who = vCalAddress("mailto:attendee@invalid")
    who.params["ROLE"] = "REQ-PARTICIPANT"
    who.params["RSVP"] = "FALSE"
    ev.add("attendee", who, encode=0)
    cal.add_component(ev)
    text = cal.to_ical().decode()
    assert ATTENDEE_SLOT in text
    return text


def for_attendee(template: str, address: str) -> str:
    """The event addressed to one recipient (an ASCII address: folded at 75 octets)."""
    line = ATTENDEE_SLOT.replace("attendee@invalid", address)
    folded = "\r\n ".join(line[i:i + 74] for i in range(0, len(line), 74))
    return template.replace(ATTENDEE_SLOT, folded)
