"""Notices: what was sent to whom, and its delivery status."""

from __future__ import annotations
