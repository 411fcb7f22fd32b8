"""Domain errors: what went wrong, in the words of the court, with no HTTP in them. Services
raise these; the HTTP edge maps each kind to a status in one place (`hearing/api/errors.py`),
and the command line prints the message."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal the caller can act on. `code` is a stable machine-readable name; `extra`
    carries fields that help the caller (the offending field, the hearing's state)."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra


class Invalid(DomainError):
    """The request itself is malformed or names something that does not fit."""
    code = "bad_request"


class Unauthorized(DomainError):
    """Nobody known is calling: no session, a bad or expired invite."""
    code = "unauthorized"


class Forbidden(DomainError):
    """The caller is known but their role does not allow this."""
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """Not now: the state of the record forbids it (a closed hearing, a signed version)."""
    code = "conflict"


class TooLarge(DomainError):
    code = "too_large"


class Unprocessable(DomainError):
    """Well-formed but cannot be carried out (a wrong passphrase, media that is not media)."""
    code = "unprocessable"


class RateLimited(DomainError):
    code = "rate_limited"


class Busy(DomainError):
    """Someone is working on it right now (an upload still receiving on another connection)."""
    code = "busy"


class OutOfSpace(DomainError):
    """The server has no room left to store it."""
    code = "insufficient_storage"


class Unavailable(DomainError):
    """A part the action needs is not running (the model is still loading)."""
    code = "unavailable"


def bad_request(message: str, **extra: object) -> Invalid:
    return Invalid(message, **extra)


def unauthorized(message: str = "sign in or present a valid invite") -> Unauthorized:
    return Unauthorized(message)


def forbidden(message: str = "your role does not allow this") -> Forbidden:
    return Forbidden(message)


def not_found(what: str = "not found") -> NotFound:
    return NotFound(what)


def conflict(message: str, **extra: object) -> Conflict:
    return Conflict(message, **extra)
