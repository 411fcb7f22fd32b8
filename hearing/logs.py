"""The server's log: one event per line, as JSON for a log collector or as text on a terminal.

Every line carries the request it belongs to (``request_id``, also answered as the
X-Request-Id header), the hearing and the kind of caller, taken from context variables that
the HTTP middlewares set, so a line written deep inside a service still says whose request
it served. Nothing secret reaches a line: passwords, tokens, cookies, Authorization headers
and invite fragments (``#...``) are replaced by ``[redacted]`` in the message and in the
traceback, whoever wrote them."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import datetime, timezone
from typing import TextIO

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id",
                                                                        default=None)
hearing_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("hearing_id",
                                                                       default=None)
caller_kind: contextvars.ContextVar[str | None] = contextvars.ContextVar("caller_kind",
                                                                        default=None)

FORMATS = ("json", "text", "auto")
LEVELS = ("debug", "info", "warning", "error")
REDACTED = "[redacted]"

_SECRET_WORDS = r"(?:password|passphrase|passwd|secret|token|csrf[_-]?token|cookie|set-cookie|" \
                r"authorization|session|api[_-]?key|invite)"
_PATTERNS = [
    # Authorization: Bearer xyz / Basic xyz (header dumps, repr of a headers mapping)
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
    # key=value, key: value, "key": "value" for a secret-sounding key (JSON, query, headers)
    re.compile(r"(?i)(\"?[\w-]*" + _SECRET_WORDS + r"[\w-]*\"?\s*[:=]\s*)"
               r"(\"[^\"]*\"|'[^']*'|[^\s,;&}]+)"),
    # the fragment of an invite link carries the token: https://court/join#<token>
    re.compile(r"(#)[A-Za-z0-9._~+/=-]{8,}"),
]


def redact(text: str) -> str:
    """The text with every secret-looking value replaced."""
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _PATTERNS[1].sub(lambda m: m.group(1) + REDACTED, text)
    return _PATTERNS[2].sub(lambda m: m.group(1) + REDACTED, text)


def _context(record: logging.LogRecord) -> dict:
    return {"request_id": getattr(record, "request_id", None) or request_id.get(),
            "hearing_id": getattr(record, "hearing_id", None) or hearing_id.get(),
            "caller": getattr(record, "caller", None) or caller_kind.get()}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, hearing_id,
    caller, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        event = {"time": datetime.fromtimestamp(record.created, timezone.utc)
                 .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                 "level": record.levelname.lower(), "logger": record.name,
                 "message": redact(record.getMessage()), **_context(record)}
        for key in ("method", "route", "status", "duration_ms"):
            if hasattr(record, key):
                event[key] = getattr(record, key)
        if record.exc_info:
            event["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(event, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a person at a terminal: time, level, logger, the request and hearing, message."""

    def format(self, record: logging.LogRecord) -> str:
        ctx = _context(record)
        tags = " ".join(f"{k}={v}" for k, v in (("req", ctx["request_id"]),
                                                ("hearing", ctx["hearing_id"]),
                                                ("caller", ctx["caller"])) if v)
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        line = f"{when} {record.levelname:<7} {record.name}{' [' + tags + ']' if tags else ''}: " \
               f"{redact(record.getMessage())}"
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        return line


def formatter(kind: str, stream: TextIO) -> logging.Formatter:
    if kind == "auto":
        kind = "text" if stream.isatty() else "json"
    return JsonFormatter() if kind == "json" else TextFormatter()


def setup(kind: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Send every logger's events to ``stream`` (stderr) in ``kind`` format at ``level``."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(kind, stream))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("alembic", "aioice", "aiortc"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # our own request lines
