"""The one place where domain errors become HTTP: {"error": code, "message": text, ...extra}
with the status that fits the kind of error."""

from __future__ import annotations

from aiohttp import web

from hearing.errors import (Busy, Conflict, DomainError, Forbidden, Invalid, NotFound,
                            OutOfSpace, RateLimited, TooLarge, Unauthorized, Unavailable,
                            Unprocessable)

STATUS: dict[type[DomainError], int] = {
    Invalid: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, Conflict: 409,
    TooLarge: 413, Unprocessable: 422, Busy: 423, RateLimited: 429, Unavailable: 503,
    OutOfSpace: 507,
}

#: The JSON Schema of every error answer (published in OpenAPI).
ERROR_SCHEMA = {
    "type": "object", "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}


def status_of(exc: DomainError) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def error_response(exc: DomainError) -> web.Response:
    headers = {}
    retry = exc.extra.get("retry_after_s")
    if isinstance(exc, RateLimited) and retry is not None:
        headers["Retry-After"] = str(int(retry))
    return web.json_response({"error": exc.code, "message": exc.message, **exc.extra},
                             status=status_of(exc), headers=headers)
