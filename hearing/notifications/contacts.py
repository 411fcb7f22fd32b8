"""A person's contact as an address a notice can go to: an e-mail address, or a phone number
in E.164 form for SMS. Anything else is unusable (skipped and counted, never guessed at)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hearing.models import NoticeChannel

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
                    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
#: What people put between the digits of a phone number.
_PHONE_NOISE = re.compile(r"[\s().-]")


@dataclass(frozen=True)
class Address:
    channel: NoticeChannel
    #: Normalised: e-mail with its domain lower-cased, phone as +<country><number>.
    value: str


def parse_contact(contact: str | None) -> Address | None:
    """The address in a contact field, or None when it is neither an e-mail address nor a
    phone number. Phones: +<8-15 digits>, 00<...> (international prefix), or the national
    11-digit form with trunk prefix 8 used in Kazakhstan and Russia (8 7xx → +7 7xx)."""
    text = (contact or "").strip()
    if not text or len(text) > 254:
        return None
    if "@" in text:
        if not _EMAIL.match(text):
            return None
        local, domain = text.rsplit("@", 1)
        return Address("email", f"{local}@{domain.lower()}")
    digits = _PHONE_NOISE.sub("", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif len(digits) == 11 and digits.startswith("8"):
        digits = "+7" + digits[1:]
    if re.fullmatch(r"\+[1-9][0-9]{7,14}", digits):
        return Address("sms", digits)
    return None


def masked(address: str) -> str:
    """Enough of an address for an audit row to tell notices apart, not enough to be one."""
    if "@" in address:
        local, domain = address.rsplit("@", 1)
        return f"{local[:1]}***@{domain}"
    return f"{address[:4]}***{address[-2:]}"
