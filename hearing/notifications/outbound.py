"""What the senders take and give back: one message out, and how its attempt ended."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outgoing:
    notice_id: int
    address: str
    subject: str
    text: str
    #: The iCalendar invitation (e-mail only) and its METHOD.
    ics: str | None = None
    ics_method: str = "REQUEST"


@dataclass(frozen=True)
class Outcome:
    """sent: handed over (provider_ref names it in delivery reports); otherwise ``permanent``
    means the provider refused the address for good (bounced), else it is worth a retry."""
    sent: bool
    provider_ref: str | None = None
    permanent: bool = False
    error: str = ""
    #: Not worth a retry though the address was not refused (the notice fails at once).
    give_up: bool = False
