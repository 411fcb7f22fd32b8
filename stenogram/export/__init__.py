"""Court documents from a stenogram version: the hearing protocol as PDF and DOCX, and the
record as TXT, SRT, WebVTT and JSON. Every renderer takes a ``Protocol`` (see protocol.py),
built once from a version, its signatures and the public keys."""

from .protocol import Protocol, protocol_from_version

__all__ = ["Protocol", "protocol_from_version"]
