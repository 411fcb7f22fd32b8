"""Cases: the case file, its parties and its history."""

from __future__ import annotations
