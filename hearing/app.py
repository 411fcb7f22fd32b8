"""The aiohttp application: middlewares (request id, log context and metrics, errors, security
headers, caller resolution, CSRF), routes, static pages, liveness and readiness, the separate
metrics site, and start-up/shutdown of the runtime."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from pathlib import Path

from aiohttp import web

from hearing import auth, logs
from hearing.api import (auth_routes, calendar_routes,  # noqa: F401 (routes)
                         case_routes, closure_routes, courtroom_routes, evidence_routes, hearing_routes,
                         note_routes, notice_routes, presence_routes, recording_routes,
                         redaction_routes,
                         retranscription_routes, search_routes,
                         stenogram_routes, transcript_routes, workplace_routes, ws)
from hearing.api.context import CALLER, STATE
from hearing.api.errors import error_response
from hearing.api.registry import Endpoint, add_routes, openapi
from hearing.config import Config
from hearing.db import Database
from hearing.errors import DomainError, TooLarge, forbidden, not_found, unauthorized
from hearing.metrics import CONTENT_TYPE
from hearing.preflight import readiness
from hearing.roles import Caller
from hearing.state import AppState
from media.tasks import Tasks

log = logging.getLogger(__name__)
http_log = logging.getLogger("hearing.http")
WEB = Path(__file__).parent / "web"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HSTS = "max-age=31536000; includeSubDomains"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: A request id a proxy passes on is kept if it looks like one; otherwise a fresh one is made.
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
REQUEST_ID_KEY = web.RequestKey("request_id", str)
SENT_STATUS = web.RequestKey("sent_status", int)


class MetricsSite:
    """The separate /metrics site of a server; ``runner`` once it listens."""
    runner: web.AppRunner | None = None


METRICS_SITE = web.AppKey("metrics_site", MetricsSite)


def route_of(request: web.Request) -> str:
    """The declared path template (``/api/hearings/{hearing_id}``), never the raw path, so
    metrics and logs stay bounded and carry no ids or tokens."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def observe(request: web.Request, handler) -> web.StreamResponse:  # noqa: ANN001
    """Outermost: the request's id (answered as X-Request-Id), the log context every line
    written for it carries (request, hearing, caller kind), its log line and its count."""
    given = request.headers.get("X-Request-Id", "")
    rid = request[REQUEST_ID_KEY] = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    hid = request.match_info.get("hearing_id", "")
    tokens = (logs.request_id.set(rid),
              logs.hearing_id.set(int(hid) if hid.isascii() and hid.isdigit() and len(hid) <= 10 else None),
              logs.caller_kind.set(None))
    started, status = time.perf_counter(), 500
    try:
        resp = await handler(request)
        status = resp.status
        return resp
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:  # the peer went away: a WebSocket ends so, after its 101
        status = request.get(SENT_STATUS, 499)
        raise
    finally:
        route = route_of(request)
        method = request.method if request.method in METHODS else "other"
        request.app[STATE].metrics.http_responses.labels(method, route, str(status)).inc()
        ms = round((time.perf_counter() - started) * 1000, 1)
        http_log.log(logging.WARNING if status >= 500 else logging.INFO,
                     "%s %s %s %.1fms", request.method, route, status, ms,
                     extra={"method": request.method, "route": route, "status": status,
                            "duration_ms": ms})
        for var, token in zip((logs.request_id, logs.hearing_id, logs.caller_kind), tokens):
            var.reset(token)


async def _answer_request_id(request: web.Request, response: web.StreamResponse) -> None:
    request[SENT_STATUS] = response.status
    if REQUEST_ID_KEY in request:
        response.headers["X-Request-Id"] = request[REQUEST_ID_KEY]


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


def _node_sockets(config: Config) -> str:
    """Of several nodes, a phone's socket may be sent to the node that holds its hearing: the
    page may connect to the court's nodes as ``node_urls`` lists them, and nowhere else
    (check-config warns when several nodes list none)."""
    if not config.nats_url:
        return ""
    urls = [u.strip().rstrip("/") for u in config.node_urls.split(",") if u.strip()]
    return "".join(f" {re.sub(r'^http', 'ws', u)}/" for u in urls)


@web.middleware
async def security_headers(request: web.Request, handler) -> web.StreamResponse:  # noqa: ANN001
    resp = await handler(request)
    if not resp.prepared:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        sockets = _node_sockets(request.app[STATE].config)
        resp.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data: blob:; "
                                f"media-src 'self' blob:; connect-src 'self'{sockets}; "
                                "style-src 'self'; script-src 'self'; frame-ancestors 'none'")
        if request.path.startswith("/api/"):
            resp.headers.setdefault("Cache-Control", "no-store")
        if request.secure:  # only over HTTPS: browsers ignore it on plain HTTP anyway
            resp.headers.setdefault("Strict-Transport-Security", HSTS)
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
    logs.caller_kind.set(caller.kind)
    if logs.hearing_id.get() is None and caller.hearing_id is not None:
        logs.hearing_id.set(caller.hearing_id)
    return await handler(request)


def make_app(config: Config, db: Database | None = None, *, warm_up: bool = False
             ) -> web.Application:
    """The server's application. ``warm_up`` (``courtroom serve``): the model starts loading
    at once, so that the first hearing's first words do not wait for it."""
    db = db or Database(config.db_url)
    state = AppState(config=config, db=db)
    app = web.Application(middlewares=[observe, errors, security_headers, callers],
                          client_max_size=config.max_json_body)
    app.on_response_prepare.append(_answer_request_id)
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
    async def ready(request: web.Request) -> web.Response:
        """Readiness, apart from liveness: 503 with the reasons while the server cannot do
        its work (starting, database unreachable, disk not writable, model missing)."""
        reasons = await readiness(state)
        return web.json_response({"ready": not reasons, "reasons": reasons},
                                 status=503 if reasons else 200)

    app.router.add_get("/api/health", health)
    app.router.add_get("/api/ready", ready)
    if config.metrics_port and (config.metrics_host, config.metrics_port) == (config.host,
                                                                             config.port):
        app.router.add_get("/metrics", metrics_handler(state))  # configured so, deliberately

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
        if warm_up:
            state.live.transcription.prepare(load_model=True)

    async def shutdown(app: web.Application) -> None:
        await closings.wait()  # every closed socket's "leave" is recorded first
        await closings.close()
        await state.close()
    app.on_startup.append(startup)
    app.on_cleanup.append(shutdown)
    return app


def metrics_handler(state: AppState):  # noqa: ANN201
    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=await state.metrics.exposition(),
                            headers={"Content-Type": CONTENT_TYPE})
    return metrics


def serve_metrics(app: web.Application, host: str, port: int) -> None:
    """Serve /metrics of ``app``'s server on its own address (not the public port), started
    and stopped with ``app``. The bound address is in ``app[METRICS_SITE].runner.addresses``. An
    address that cannot be had is logged, and the court's server runs on without metrics: a
    hearing never waits for its monitoring."""
    metrics_app = web.Application()
    metrics_app.router.add_get("/metrics", metrics_handler(app[STATE]))
    site = app[METRICS_SITE] = MetricsSite()

    async def start(app: web.Application) -> None:
        runner = web.AppRunner(metrics_app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            log.error("metrics not served: cannot listen on %s:%s (%s)", host, port,
                      exc.strerror or exc)
            await runner.cleanup()
            return
        site.runner = runner

    async def stop(app: web.Application) -> None:
        if site.runner is not None:
            await site.runner.cleanup()
            site.runner = None
    app.on_startup.append(start)
    app.on_shutdown.append(stop)
