"""The courtroom calendar: bookings and the week view."""

from __future__ import annotations
