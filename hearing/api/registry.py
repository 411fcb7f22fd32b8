"""Declare each endpoint once: path, method, who may call it, the JSON body schema and the
answer's schema. The declaration routes the request, resolves the caller (see app.callers),
converts path ids to typed arguments, validates the body before the handler runs, and
publishes /api/openapi.json, so neither validation nor documentation can be forgotten or drift.

A handler is `async def name(call: Call, <path ids>, body: dict) -> dict | list | Response`:
path ids arrive as the annotated type (`int` ids outside 1..2**31-1 answer 404), `body` only if
the endpoint declares one, and a dict or list is answered as JSON with the declared status."""

from __future__ import annotations

import copy
import inspect
import json
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Literal, get_type_hints

from aiohttp import web
from jsonschema import Draft202012Validator

from hearing.api.context import CALLER, STATE, Call
from hearing.api.errors import ERROR_SCHEMA
from hearing.errors import TooLarge, bad_request, not_found
from hearing.text import clean_json, clean_text

Handler = Callable[..., Awaitable[Any]]
#: staff: the court's accounts; party: a prosecutor's, lawyer's or representative's account;
#: account: either; participant: an invite; any: all of these.
Auth = Literal["none", "staff", "party", "account", "participant", "any"]
PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")
MAX_ID = 2**31 - 1

#: Set by the test suite: every JSON answer is validated against its declared schema, so the
#: published OpenAPI cannot describe answers the server does not give.
CHECK_RESPONSES = False


@dataclass
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    auth: Auth
    body: dict | None = None
    body_optional: bool = False
    response: dict | None = None
    status: int = 200
    content_type: str = "application/json"
    responses: dict[int, str] = field(default_factory=dict)
    tag: str = "hearings"
    params: dict[str, type] = field(default_factory=dict)
    #: Query parameters: name -> JSON Schema of the value (string, integer, boolean, enum).
    query: dict[str, dict] = field(default_factory=dict)
    validator: Draft202012Validator | None = None
    response_validator: Draft202012Validator | None = None


ENDPOINTS: list[Endpoint] = []
SCHEMAS: dict[str, dict] = {"Error": ERROR_SCHEMA}


def schema(name: str, definition: dict) -> dict:
    """Register a named schema (for OpenAPI components) and return it for use in declarations."""
    SCHEMAS[name] = definition
    return definition


def array_of(item: dict, key: str) -> dict:
    """An answer of the form {key: [item, ...]}."""
    return {"type": "object", "required": [key],
            "properties": {key: {"type": "array", "items": item}}}


def endpoint(method: str, path: str, *, summary: str, auth: Auth = "staff",
             body: dict | None = None, body_optional: bool = False,
             response: dict | None = None, status: int = 200,
             content_type: str = "application/json",
             responses: dict[int, str] | None = None,
             tag: str = "hearings", query: dict[str, dict] | None = None
             ) -> Callable[[Handler], Handler]:
    """Declare an endpoint. ``query`` declares its query parameters (each a JSON Schema of
    one value); the handler then takes ``query``: a dict of the ones given, parsed and
    validated. An undeclared query parameter answers 400, so a misspelt filter is never
    silently ignored."""
    def deco(fn: Handler) -> Handler:
        hints = get_type_hints(fn)
        names = PATH_PARAM.findall(path)
        params = {n: hints.get(n, str) for n in names}
        sig = inspect.signature(fn)
        missing = [n for n in names if n not in sig.parameters]
        if missing:
            raise TypeError(f"{fn.__name__}: path parameters {missing} are not arguments")
        if (body is not None) != ("body" in sig.parameters):
            raise TypeError(f"{fn.__name__}: declares a body schema iff it takes `body`")
        if (query is not None) != ("query" in sig.parameters):
            raise TypeError(f"{fn.__name__}: declares query parameters iff it takes `query`")
        ep = Endpoint(method, path, fn, summary, auth, body, body_optional, response, status,
                      content_type, responses or {}, tag, params, dict(query or {}))
        if body is not None:
            ep.validator = Draft202012Validator(body)
        if response is not None:
            ep.response_validator = Draft202012Validator(response)

        async def route(request: web.Request) -> web.StreamResponse:
            state = request.app[STATE]
            kwargs: dict[str, Any] = {n: _path_value(request.match_info[n], kind, n)
                                      for n, kind in params.items()}
            if query is not None:
                kwargs["query"] = read_query(request, ep)
            if body is not None:
                kwargs["body"] = await read_body(request, ep, state.config.max_json_body)
            result = await fn(Call(request, state, request.get(CALLER)), **kwargs)
            if isinstance(result, web.StreamResponse):
                if (CHECK_RESPONSES and ep.response_validator is not None
                        and isinstance(result, web.Response) and result.status == ep.status
                        and result.content_type == "application/json"
                        and ep.content_type == "application/json"):  # not a .json download
                    _check_response(ep, json.loads(result.text))  # JSON built to set cookies
                return result
            if CHECK_RESPONSES and ep.response_validator is not None:
                _check_response(ep, result)
            return web.json_response(result, status=ep.status)

        route.endpoint = ep  # type: ignore[attr-defined]
        route.__name__ = fn.__name__
        ep.handler = route
        ENDPOINTS.append(ep)
        return route
    return deco


def _path_value(raw: str, kind: type, name: str) -> Any:
    if kind is int:
        # ASCII digits only: int() would accept "²"-like digits, signs, spaces and underscores
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or not 0 < int(raw) <= MAX_ID:
            raise not_found(f"no such {name.removesuffix('_id')}")
        return int(raw)
    return clean_text(raw)


def read_query(request: web.Request, ep: Endpoint) -> dict[str, Any]:
    """The declared query parameters, cleaned, converted to their schema's type and
    validated; an unknown or repeated parameter answers 400."""
    out: dict[str, Any] = {}
    for name in request.query:
        if name not in ep.query:
            known = ", ".join(sorted(ep.query)) or "none"
            raise bad_request(f"unknown query parameter {name!r} (known: {known})", field=name)
        values = request.query.getall(name)
        if len(values) > 1:
            raise bad_request(f"query parameter {name!r} given more than once", field=name)
        schema_ = ep.query[name]
        raw = clean_text(values[0])
        value: Any = raw
        kind = schema_.get("type")
        if kind == "integer":
            if not (raw.lstrip("-").isascii() and raw.lstrip("-").isdigit()) or len(raw) > 12:
                raise bad_request(f"{name}: not an integer", field=name)
            value = int(raw)
        elif kind == "boolean":
            if raw not in ("true", "false", "1", "0"):
                raise bad_request(f"{name}: true or false", field=name)
            value = raw in ("true", "1")
        errors = list(Draft202012Validator(schema_).iter_errors(value))
        if errors:
            raise bad_request(f"{name}: {errors[0].message[:300]}", field=name)
        out[name] = value
    return out


async def read_body(request: web.Request, ep: Endpoint, limit: int) -> Any:
    """Parse the body, normalise every string in it (hearing/text.py: NFC, no control
    characters but newline and tab, no lone surrogates) and validate it against the
    endpoint's declared schema, so handlers and storage only ever see clean text."""
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"request body over {limit} bytes")
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise TooLarge(f"request body over {limit} bytes")
    if not raw.strip() and ep.body_optional:
        return {}
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise bad_request(f"body is not valid JSON: {str(exc)[:200]}") from None
    try:
        data = clean_json(data)
    except ValueError as exc:
        raise bad_request(f"body: {str(exc)[:200]}") from None
    assert ep.validator is not None
    try:
        errors = sorted(ep.validator.iter_errors(data), key=lambda e: list(e.path))
    except RecursionError:
        raise bad_request("body is nested too deeply") from None
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "body"
        raise bad_request(f"{where}: {first.message[:500]}", field=where)
    return data


def _check_response(ep: Endpoint, result: Any) -> None:
    assert ep.response_validator is not None
    errors = list(ep.response_validator.iter_errors(result))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "answer"
        raise AssertionError(f"{ep.method} {ep.path} answered outside its declared schema: "
                             f"{where}: {first.message}")


def add_routes(app: web.Application) -> None:
    for ep in ENDPOINTS:
        app.router.add_route(ep.method, ep.path, ep.handler)


def _openapi_path(path: str) -> str:
    return PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def _path_params(ep: Endpoint) -> list[dict]:
    return [{"name": name, "in": "path", "required": True,
             "schema": ({"type": "integer", "minimum": 1, "maximum": MAX_ID} if kind is int
                        else {"type": "string"})}
            for name, kind in ep.params.items()]


def _query_params(ep: Endpoint) -> list[dict]:
    return [{"name": name, "in": "query", "required": False, "schema": copy.deepcopy(sch),
             **({"description": sch["description"]} if "description" in sch else {})}
            for name, sch in ep.query.items()]


def openapi() -> dict:
    paths: dict[str, dict] = {}
    security = {"staff": [{"session": []}], "party": [{"session": []}],
                "account": [{"session": []}], "participant": [{"invite": []}],
                "any": [{"session": []}, {"invite": []}], "none": []}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for ep in ENDPOINTS:
        ok: dict[str, Any] = {"description": ep.responses.get(ep.status, "OK")}
        if ep.response is not None:
            ok["content"] = {ep.content_type: {"schema": copy.deepcopy(ep.response)}}
        answers: dict[str, Any] = {str(ep.status): ok}
        for code, text in ep.responses.items():
            if code != ep.status:
                answers[str(code)] = ({"description": text, "content": error} if code >= 400
                                      else {"description": text})
        if ep.auth != "none":
            answers.setdefault("401", {"description": "not signed in / bad invite",
                                       "content": error})
            answers.setdefault("403", {"description": "role does not allow this",
                                       "content": error})
        if ep.params:
            answers.setdefault("404", {"description": "no such record", "content": error})
        op: dict[str, Any] = {
            "summary": ep.summary, "tags": [ep.tag], "operationId": ep.handler.__name__,
            "parameters": _path_params(ep) + _query_params(ep),
            "security": security[ep.auth],
            "responses": answers,
        }
        if ep.query:
            answers.setdefault("400", {"description": "invalid query parameter",
                                       "content": error})
        if ep.body is not None:
            op["requestBody"] = {"required": not ep.body_optional, "content": {
                "application/json": {"schema": copy.deepcopy(ep.body)}}}
            answers.setdefault("400", {"description": "invalid body", "content": error})
            answers.setdefault("413", {"description": "body too large", "content": error})
        paths.setdefault(_openapi_path(ep.path), {})[ep.method.lower()] = op
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
