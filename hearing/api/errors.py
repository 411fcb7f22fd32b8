"""One error shape for every failure: {"error": code, "message": text} with a fitting status."""

from __future__ import annotations

from aiohttp import web


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: object) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> web.Response:
        return web.json_response({"error": self.code, "message": self.message, **self.extra},
                                 status=self.status)


def bad_request(message: str, **extra: object) -> ApiError:
    return ApiError(400, "bad_request", message, **extra)


def unauthorized(message: str = "sign in or present a valid invite") -> ApiError:
    return ApiError(401, "unauthorized", message)


def forbidden(message: str = "your role does not allow this") -> ApiError:
    return ApiError(403, "forbidden", message)


def not_found(what: str = "not found") -> ApiError:
    return ApiError(404, "not_found", what)


def conflict(message: str, **extra: object) -> ApiError:
    return ApiError(409, "conflict", message, **extra)
