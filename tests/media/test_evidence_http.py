"""The upload protocol over real HTTP (the reference aiohttp adapter): a TCP connection cut
in the middle of a PATCH keeps what arrived, the client asks for the offset, sends the rest,
and the receipt's hash is the file's."""

import asyncio
import hashlib

from aiohttp import web

from media.blobstore import BlobStore
from media.evidence import UploadManager, UploadOptions
from media.evidence.aiohttp_routes import upload_routes
from media.evidence.samples import make_media

PREFIX = "/api/evidence/uploads"


def make_app(root, receipts, allowed=lambda req, action, upload: True):
    manager = UploadManager(BlobStore(root), UploadOptions(min_free_bytes=0, buffer_bytes=8192,
                                                           checkpoint_bytes=16384))

    async def authorize(request, action, upload):
        if not allowed(request, action, upload):
            raise web.HTTPForbidden(text="not allowed to submit evidence")
        return {"user": request.headers.get("X-User"), "remote": request.remote}

    async def on_receipt(request, receipt):
        receipts.append(receipt)

    app = web.Application()
    app.add_routes(upload_routes(manager, PREFIX, authorize, on_receipt))
    return app


async def test_cut_connection_resumes_over_http(aiohttp_client, tmp_path):
    data = make_media(tmp_path / "v.webm", "webm-vp8", seconds=2.0).read_bytes()
    receipts = []
    client = await aiohttp_client(make_app(tmp_path / "blobs", receipts))
    r = await client.post(PREFIX, json={"filename": "v.webm", "size": len(data),
                                        "sha256": hashlib.sha256(data).hexdigest()},
                          headers={"X-User": "witness-3"})
    assert r.status == 201
    upload = r.headers["Location"]

    # raw socket: announce the whole body, send 40 % of it, then the network drops
    cut = len(data) * 2 // 5
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write((f"PATCH {upload} HTTP/1.1\r\nHost: x\r\nUpload-Offset: 0\r\n"
                  f"Content-Length: {len(data)}\r\n\r\n").encode() + data[:cut])
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.transport.abort()

    for _ in range(100):  # the server notices the reset and checkpoints what arrived
        r = await client.head(upload)
        if int(r.headers["Upload-Offset"]) == cut:
            break
        await asyncio.sleep(0.05)
    offset = int(r.headers["Upload-Offset"])
    assert offset == cut

    r = await client.patch(upload, data=data[offset:], headers={"Upload-Offset": "0"})
    assert r.status == 409 and r.headers["Upload-Offset"] == str(offset)
    r = await client.patch(upload, data=data[offset:], headers={"Upload-Offset": str(offset)})
    assert r.status == 204 and r.headers["Upload-Offset"] == str(len(data))
    r = await client.post(upload + "/complete")
    assert r.status == 200
    body = await r.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["media"]["kind"] == "video"
    assert body["meta"]["user"] == "witness-3"
    assert len(receipts) == 1


async def test_refused_roles_and_bad_files_get_clear_statuses(aiohttp_client, tmp_path):
    receipts = []
    client = await aiohttp_client(make_app(
        tmp_path / "blobs", receipts, allowed=lambda req, a, up: req.headers.get("X-User") != "public"
        and (up is None or up.meta["user"] == req.headers.get("X-User"))))
    r = await client.post(PREFIX, json={"size": 10}, headers={"X-User": "public"})
    assert r.status == 403
    r = await client.post(PREFIX, json={"size": 10}, headers={"X-User": "party-1"})
    other = r.headers["Location"]
    r = await client.patch(other, data=b"x" * 10, headers={"Upload-Offset": "0", "X-User": "party-2"})
    assert r.status == 403  # not the submitter's upload
    zipped = b"PK\x03\x04" + b"\x00" * 200
    r = await client.post(PREFIX, json={"filename": "x.mp4", "size": len(zipped)})
    upload = r.headers["Location"]
    r = await client.patch(upload, data=zipped, headers={"Upload-Offset": "0"})
    assert r.status == 204
    r = await client.post(upload + "/complete")
    assert r.status == 422
    assert "ZIP" in (await r.json())["message"]
    r = await client.get(PREFIX + "/nonexistent-upload-id-000")
    assert r.status == 404
    assert receipts == []


async def test_retry_takes_over_from_a_half_open_connection(aiohttp_client, tmp_path):
    data = make_media(tmp_path / "a.ogg", "ogg-opus", seconds=3.0).read_bytes()
    receipts = []
    client = await aiohttp_client(make_app(tmp_path / "blobs", receipts))
    r = await client.post(PREFIX, json={"filename": "a.ogg", "size": len(data)})
    upload = r.headers["Location"]
    cut = len(data) // 3
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write((f"PATCH {upload} HTTP/1.1\r\nHost: x\r\nUpload-Offset: 0\r\n"
                  f"Content-Length: {len(data)}\r\n\r\n").encode() + data[:cut])
    await writer.drain()  # ...and then silence: no FIN, no RST (the phone changed networks)
    await asyncio.sleep(0.2)

    r = await client.head(upload)
    offset = int(r.headers["Upload-Offset"])  # the last durable checkpoint
    assert offset < cut
    r = await client.patch(upload, data=data[offset:], headers={"Upload-Offset": str(offset)})
    if r.status == 409:  # the old connection had more than its last checkpoint: resume there
        offset = int(r.headers["Upload-Offset"])
        assert offset == cut
        r = await client.patch(upload, data=data[offset:], headers={"Upload-Offset": str(offset)})
    assert r.status == 204
    r = await client.post(upload + "/complete")
    assert (await r.json())["sha256"] == hashlib.sha256(data).hexdigest()
    writer.transport.abort()


def test_download_names_are_labels_not_paths():
    from media.evidence.aiohttp_routes import content_disposition
    h = content_disposition("../../etc/passwd", "evidence-1")
    assert h == "attachment; filename=\"passwd\"; filename*=UTF-8''passwd"
    h = content_disposition("C:\\Users\\Ерлан\\Видео қаз.mp4", "evidence-1", inline=True)
    assert h.startswith('inline; filename="evidence-1.mp4"; filename*=UTF-8\'\'%D0%92')
    h = content_disposition('a"b\r\nSet-Cookie: x.mp4', "evidence-1")
    assert "\r" not in h and "\n" not in h and h.count('"') == 2
    assert content_disposition(None, "evidence-1.bin").startswith('attachment; filename="evidence-1.bin"')
