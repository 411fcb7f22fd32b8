"""What every text input becomes before anything else sees it: one function, applied at the
edges (JSON bodies, WebSocket messages and path parameters in hearing/api, arguments of the
command line), so no stored name, correction or speaker label can carry a character that a
court document cannot hold.

The rules, and why:
- Lone surrogates (JSON allows the escape ``\\ud800`` without its pair) are removed: they are
  not characters, cannot be encoded as UTF-8, so could be neither stored in PostgreSQL nor
  written to any document. Removing them (rather than refusing the request) treats them like
  the control characters below: the rest of the text is kept.
- Line endings become ``\\n`` (``\\r\\n`` and a lone ``\\r``), so a pasted Windows text keeps its
  line breaks.
- Every other control character (Unicode category Cc: C0, DEL and the C1 range U+0080-U+009F)
  except ``\\n`` and ``\\t`` is removed: XML (DOCX) refuses most of them, and none is visible.
- The result is in Unicode NFC, so the same visible text is the same string (search, equality,
  signatures).
- Kept on purpose: U+2028/U+2029 (line/paragraph separators; valid in XML, JSON and PDF text,
  and the one-line renderings fold them like any white space) and zero-width characters
  (ZWJ/ZWNJ are part of the spelling of Persian, Indic and emoji sequences; they break no
  export). Noncharacters and private-use characters are valid Unicode and also kept; the
  exporters replace what a format cannot carry (stenogram/export/protocol.py)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_SURROGATES = re.compile("[\ud800-\udfff]")
_NEWLINES = re.compile("\r\n?")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """``text`` normalised as described above; idempotent."""
    text = _SURROGATES.sub("", text)
    text = _NEWLINES.sub("\n", text)
    text = _CONTROLS.sub("", text)
    return unicodedata.normalize("NFC", text)


def clean_json(value: Any) -> Any:
    """Parsed JSON with every string, object keys included, passed through clean_text.
    Raises ValueError if two keys of one object become equal, or if the value is nested
    too deeply to walk."""
    try:
        return _walk(value)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _walk(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_walk(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = clean_text(k)
            if key in out:
                raise ValueError(f"two keys are both {key!r} once normalised")
            out[key] = _walk(v)
        return out
    return value
