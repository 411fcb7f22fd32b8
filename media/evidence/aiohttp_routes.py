"""A reference aiohttp adapter for resumable evidence uploads: the shape the hearing server's
routes take, used as is by the tests and the benchmark. Authorisation and the custody log are
the server's: it passes ``authorize(request, action, upload)`` (raise web.HTTPForbidden; on
"create" ``upload`` is None and the returned dict is kept as the upload's ``meta``; on the
other actions ``upload`` is the UploadStatus, whose ``meta`` says who started it) and
``on_receipt`` (write custody/audit rows; it may be called again for the same upload id when
a client repeats ``complete``).

Protocol (tus-like):
  POST   {prefix}                 JSON {filename, size, sha256, content_type} -> 201 status
  HEAD   {prefix}/{id}            -> 200, header Upload-Offset (GET: the status as JSON)
  PATCH  {prefix}/{id}            header Upload-Offset, body = next bytes -> 204 Upload-Offset
  POST   {prefix}/{id}/complete   -> 200 receipt JSON
  DELETE {prefix}/{id}            -> 204"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web

from .errors import EvidenceError, UploadNotFound
from .upload import Receipt, UploadManager, UploadStatus

Authorize = Callable[[web.Request, str, UploadStatus | None], Awaitable[dict[str, Any]]]
OnReceipt = Callable[[web.Request, Receipt], Awaitable[None]]
BODY_READ = 1 << 18


async def _allow_all(request: web.Request, action: str,
                     upload: UploadStatus | None) -> dict[str, Any]:
    return {"remote": request.remote}


async def _nothing(request: web.Request, receipt: Receipt) -> None:
    return None


def _error(e: EvidenceError) -> web.Response:
    headers = {}
    if "offset" in e.details:
        headers["Upload-Offset"] = str(e.details["offset"])
    return web.json_response(e.to_json(), status=e.http_status, headers=headers)


def content_disposition(filename: str | None, fallback: str, inline: bool = False) -> str:
    """Header to serve a stored file under the name its submitter gave it: folders and control
    characters removed, an ASCII fallback plus the UTF-8 name (RFC 6266/5987), so a name like
    ``../../x.html`` or one in Kazakh is only ever a label."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip(" .")[:200]
    name = name or fallback
    if name.isascii():
        ascii_name = re.sub(r'[^A-Za-z0-9._ -]', "_", name).strip(" .") or fallback
    else:  # keep the extension, if it is a plain one, on the ASCII fallback
        ext = name.rsplit(".", 1)[-1] if "." in name else ""
        ascii_name = fallback + (f".{ext}" if ext.isascii() and ext.isalnum()
                                 and "." not in fallback else "")
    kind = "inline" if inline else "attachment"
    return f'{kind}; filename="{ascii_name}"; filename*=UTF-8\'\'{quote(name, safe="")}'


def upload_routes(manager: UploadManager, prefix: str = "/api/evidence/uploads",
                  authorize: Authorize = _allow_all, on_receipt: OnReceipt = _nothing,
                  ) -> list[web.RouteDef]:
    async def create(request: web.Request) -> web.Response:
        meta = await authorize(request, "create", None)
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return web.json_response({"error": "bad_request", "message": "JSON object expected"},
                                     status=400)
        try:
            st = await manager.create(filename=body.get("filename"), size=body.get("size"),
                                      sha256=body.get("sha256"),
                                      content_type=body.get("content_type"), meta=meta)
        except EvidenceError as e:
            return _error(e)
        return web.json_response(st.to_json(), status=201,
                                 headers={"Location": f"{prefix}/{st.id}",
                                          "Upload-Offset": str(st.offset)})

    async def allowed(request: web.Request, action: str) -> UploadStatus:
        st = await manager.status(request.match_info["id"])
        await authorize(request, action, st)
        return st

    async def status(request: web.Request) -> web.Response:
        try:
            st = await allowed(request, "status")
        except EvidenceError as e:
            return _error(e)
        headers = {"Upload-Offset": str(st.offset), "Cache-Control": "no-store"}
        if request.method == "HEAD":
            return web.Response(status=200, headers=headers)
        return web.json_response(st.to_json(), headers=headers)

    async def append(request: web.Request) -> web.Response:
        try:
            await allowed(request, "append")
            offset = int(request.headers.get("Upload-Offset", ""))
        except ValueError:
            return web.json_response({"error": "bad_request",
                                      "message": "Upload-Offset header required"}, status=400)
        except EvidenceError as e:
            return _error(e)
        try:
            st = await manager.append(request.match_info["id"], offset,
                                      request.content.iter_chunked(BODY_READ))
        except EvidenceError as e:
            return _error(e)
        return web.Response(status=204, headers={"Upload-Offset": str(st.offset)})

    async def complete(request: web.Request) -> web.Response:
        try:
            await allowed(request, "complete")
            receipt = await manager.complete(request.match_info["id"])
        except EvidenceError as e:
            return _error(e)
        await on_receipt(request, receipt)
        return web.json_response(receipt.to_json())

    async def cancel(request: web.Request) -> web.Response:
        try:
            await allowed(request, "cancel")
            await manager.cancel(request.match_info["id"])
        except UploadNotFound:
            pass
        except EvidenceError as e:
            return _error(e)
        return web.Response(status=204)

    item = prefix + "/{id}"
    return [web.post(prefix, create), web.get(item, status), web.patch(item, append),
            web.post(item + "/complete", complete), web.delete(item, cancel)]
