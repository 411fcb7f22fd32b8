"""Declare each endpoint once: path, method, who may call it, the JSON body schema. The
declaration is used to route, to validate bodies before a handler runs, and to publish
/api/openapi.json, so the documentation cannot drift from what the server enforces."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from aiohttp import web
from jsonschema import Draft202012Validator

from hearing.api.errors import ApiError, bad_request
from hearing.state import STATE

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    auth: str  # "none" | "staff" | "participant" | "any"
    body: dict | None = None
    responses: dict[int, str] = field(default_factory=dict)
    tag: str = "hearings"
    validator: Draft202012Validator | None = None


ENDPOINTS: list[Endpoint] = []
SCHEMAS: dict[str, dict] = {}


def schema(name: str, definition: dict) -> dict:
    """Register a named schema (for OpenAPI components) and return it for use in bodies."""
    SCHEMAS[name] = definition
    return definition


def endpoint(method: str, path: str, *, summary: str, auth: str = "staff",
             body: dict | None = None, responses: dict[int, str] | None = None,
             tag: str = "hearings") -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        ep = Endpoint(method, path, fn, summary, auth, body, responses or {}, tag)
        if body is not None:
            ep.validator = Draft202012Validator(body)
        ENDPOINTS.append(ep)
        fn.endpoint = ep  # type: ignore[attr-defined]
        return fn
    return deco


async def json_body(request: web.Request) -> Any:
    """Parse and validate the body against the endpoint's declared schema."""
    ep: Endpoint = request.match_info.route.handler.endpoint  # type: ignore[attr-defined]
    limit = request.app[STATE].config.max_json_body
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "too_large", f"request body over {limit} bytes")
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise ApiError(413, "too_large", f"request body over {limit} bytes")
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"body is not valid JSON: {exc}") from None
    if ep.validator is not None:
        errors = sorted(ep.validator.iter_errors(data), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.path) or "body"
            raise bad_request(f"{where}: {first.message}", field=where)
    return data


def add_routes(app: web.Application) -> None:
    for ep in ENDPOINTS:
        app.router.add_route(ep.method, ep.path, ep.handler)


def _path_params(path: str) -> list[dict]:
    params = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1].split(":")[0]
            params.append({"name": name, "in": "path", "required": True,
                           "schema": {"type": "integer"} if name.endswith("id")
                           else {"type": "string"}})
    return params


def openapi() -> dict:
    paths: dict[str, dict] = {}
    security = {"staff": [{"session": []}], "participant": [{"invite": []}],
                "any": [{"session": []}, {"invite": []}], "none": []}
    for ep in ENDPOINTS:
        path = "/".join(p.split(":")[0] + ("}" if ":" in p else "") for p in ep.path.split("/"))
        op: dict[str, Any] = {
            "summary": ep.summary, "tags": [ep.tag], "operationId": ep.handler.__name__,
            "parameters": _path_params(ep.path), "security": security[ep.auth],
            "responses": {str(code): {"description": text} for code, text in
                          {200: "OK", **ep.responses}.items()},
        }
        if ep.auth != "none":
            op["responses"].setdefault("401", {"description": "not signed in / bad invite"})
            op["responses"].setdefault("403", {"description": "role does not allow this"})
        if ep.body is not None:
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": copy.deepcopy(ep.body)}}}
            op["responses"].setdefault("400", {"description": "invalid body"})
            op["responses"].setdefault("413", {"description": "body too large"})
        paths.setdefault(path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Electronic courtroom API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "courtroom_session",
                            "description": "staff login; state-changing requests also need "
                                           "the X-CSRF-Token header from /api/login"},
                "invite": {"type": "http", "scheme": "bearer",
                           "description": "participant invite token"},
            },
        },
    }
