"""The aiohttp application: middlewares (errors, security headers, caller resolution, CSRF),
routes, static pages, and start-up/shutdown of the runtime."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from aiohttp import web

from hearing import auth
from hearing.api import (auth_routes, calendar_routes,  # noqa: F401 (routes)
                         case_routes, courtroom_routes, evidence_routes, hearing_routes,
                         notice_routes, presence_routes, recording_routes, search_routes,
                         stenogram_routes, transcript_routes, workplace_routes, ws)
from hearing.api.context import CALLER, STATE
from hearing.api.errors import error_response
from hearing.api.registry import Endpoint, add_routes, openapi
from hearing.config import Config
from hearing.db import Database
from hearing.errors import DomainError, TooLarge, forbidden, not_found, unauthorized
from hearing.roles import Caller
from hearing.state import AppState
from media.tasks import Tasks

log = logging.getLogger(__name__)
WEB = Path(__file__).parent / "web"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@web.middleware
async def errors(request: web.Request, handler) -> web.StreamResponse:  # noqa: ANN001
    try:
        return await handler(request)
    except DomainError as exc:
        return error_response(exc)
    except web.HTTPRequestEntityTooLarge:
        return error_response(TooLarge("request body too large"))
    except web.HTTPException as exc:
        if exc.status >= 400 and request.path.startswith("/api/"):
            return web.json_response({"error": exc.reason.lower().replace(" ", "_"),
                                      "message": exc.reason}, status=exc.status,
                                     headers={k: v for k, v in exc.headers.items()
                                              if k.lower() == "allow"})
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error": "internal", "message": "internal server error"},
                                 status=500)


@web.middleware
async def security_headers(request: web.Request, handler) -> web.StreamResponse:  # noqa: ANN001
    resp = await handler(request)
    if not resp.prepared:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data: blob:; "
                                "media-src 'self' blob:; connect-src 'self'; "
                                "style-src 'self'; script-src 'self'; frame-ancestors 'none'")
        if request.path.startswith("/api/"):
            resp.headers.setdefault("Cache-Control", "no-store")
    return resp


@web.middleware
async def callers(request: web.Request, handler) -> web.StreamResponse:  # noqa: ANN001
    """Resolve who is calling before the handler runs, per the endpoint's declared auth."""
    ep: Endpoint | None = getattr(request.match_info.handler, "endpoint", None)
    if ep is None or ep.auth == "none":
        return await handler(request)
    caller: Caller | None = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        caller = await request.app[STATE].resolve_invite(header[7:].strip())
    elif auth.SESSION_COOKIE in request.cookies:
        caller = await request.app[STATE].resolve_session(request.cookies[auth.SESSION_COOKIE])
        if caller and request.method in UNSAFE and not auth.csrf_ok(
                caller.csrf, request.headers.get(auth.CSRF_HEADER)):
            raise forbidden("missing or wrong X-CSRF-Token header")
    if caller is None:
        raise unauthorized()
    if ep.auth == "staff" and caller.kind != "staff":
        raise forbidden("this needs a staff account")
    if ep.auth == "party" and caller.kind != "party":
        raise forbidden("this is for prosecutors, lawyers and representatives")
    if ep.auth == "account" and caller.kind not in ("staff", "party"):
        raise forbidden("this needs an account")
    if ep.auth == "participant" and caller.kind != "participant":
        raise forbidden("this is for participants joining by invite")
    request[CALLER] = caller
    return await handler(request)


def make_app(config: Config, db: Database | None = None) -> web.Application:
    db = db or Database(config.db_url)
    state = AppState(config=config, db=db)
    app = web.Application(middlewares=[errors, security_headers, callers],
                          client_max_size=config.max_json_body)
    app[STATE] = state
    closings = app[ws.CLOSINGS] = Tasks("websocket close")
    app[ws.SOCKETS] = set()
    app.on_shutdown.append(ws.close_all)

    add_routes(app)
    spec = json.dumps(openapi(), ensure_ascii=False)

    async def openapi_json(request: web.Request) -> web.Response:
        return web.Response(text=spec, content_type="application/json")

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/api/openapi.json", openapi_json)
    app.router.add_get("/api/health", health)

    async def api_fallback(request: web.Request) -> web.Response:
        """An API path that exists with other methods answers 405 with Allow, else 404."""
        allowed: set[str] = set()
        for resource in request.app.router.resources():
            if resource is not fallback:
                allowed |= (await resource.resolve(request))[1]
        if allowed:
            raise web.HTTPMethodNotAllowed(request.method, allowed)
        raise not_found(f"no API route {request.path}")
    fallback = app.router.add_route("*", "/api/{tail:.*}", api_fallback).resource

    if WEB.is_dir():
        async def index(request: web.Request) -> web.FileResponse:
            return web.FileResponse(WEB / "index.html")
        app.router.add_get("/", index)
        app.router.add_static("/static/", WEB, show_index=False)
        from hearing.api.pages import add_page_routes
        add_page_routes(app)

    async def startup(app: web.Application) -> None:
        await state.start()

    async def shutdown(app: web.Application) -> None:
        await closings.wait()  # every closed socket's "leave" is recorded first
        await closings.close()
        await state.close()
    app.on_startup.append(startup)
    app.on_cleanup.append(shutdown)
    return app
