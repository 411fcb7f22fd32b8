"""What an endpoint receives besides its path ids and body: the request, the caller resolved
by the middleware, and the server's runtime state."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from hearing.roles import Caller
from hearing.state import AppState

STATE = web.AppKey("state", AppState)
CALLER = web.RequestKey("caller", Caller)


@dataclass(frozen=True)
class Call:
    request: web.Request
    state: AppState
    caller: Caller | None

    @property
    def me(self) -> Caller:
        """The caller of an endpoint that requires one (the middleware has checked it)."""
        assert self.caller is not None
        return self.caller

    @property
    def address(self) -> str:
        return self.request.remote or "unknown"
