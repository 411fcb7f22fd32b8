"""The workplace of prosecutors, lawyers and representatives: their cases, hearings and notices."""

from __future__ import annotations
