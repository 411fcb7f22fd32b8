"""The upload protocol over real HTTP, as the hearing server speaks it: a TCP connection cut
in the middle of a PATCH keeps what arrived, the client asks for the offset, sends the rest,
and the receipt's hash is the file's; refusals get clear statuses; a retry takes over from a
half-open connection; download names are labels, never paths."""

import asyncio
import hashlib

import pytest

from hearing.accounts import add_user
from hearing.api.evidence_routes import content_disposition
from hearing.app import make_app
from hearing.config import Config
from hearing.db import Database, make_engine, upgrade
from support.media_samples import make_media

PASSWORD = "evidence over http"


class Court:
    """A hearing server on SQLite (the database is not the subject here) with one hearing."""

    def __init__(self, client, csrf, hearing_id):
        self.client, self.csrf, self.hearing_id = client, csrf, hearing_id
        self.uploads = f"/api/hearings/{hearing_id}/evidence/uploads"

    async def phone(self, role="witness", join=True) -> dict:
        """The headers of an invited participant's phone."""
        r = await self.client.post(f"/api/hearings/{self.hearing_id}/participants",
                                   headers=self.csrf, json={"role": role, "display_name": role})
        pid = (await r.json())["id"]
        r = await self.client.post(f"/api/hearings/{self.hearing_id}/participants/{pid}/invites",
                                   headers=self.csrf, json={})
        headers = {"Authorization": f"Bearer {(await r.json())['token']}"}
        if join:
            assert (await self.client.post("/api/join", headers=headers)).status == 200
        return headers

    async def evidence(self) -> list[dict]:
        r = await self.client.get(f"/api/hearings/{self.hearing_id}/evidence")
        return (await r.json())["evidence"]


@pytest.fixture
async def court(aiohttp_client, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'courtroom.sqlite3'}"
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    db = Database(db_url)
    db.run_sync(lambda s: add_user(s, "judge", PASSWORD, "judge", "Judge"))
    app = make_app(Config(data_dir=tmp_path, database_url=db_url, transcribe=False,
                          transcribe_evidence=False, evidence_min_free_bytes=0), db)
    client = await aiohttp_client(app)
    r = await client.post("/api/login", json={"username": "judge", "password": PASSWORD})
    csrf = {"X-CSRF-Token": (await r.json())["csrf_token"]}
    r = await client.post("/api/hearings", headers=csrf, json={
        "case_number": "2-1/2026", "title": "evidence", "kind": "civil", "language": "ru"})
    yield Court(client, csrf, (await r.json())["id"])
    db.close()


async def send_part(client, upload, headers, data, declared):
    """Announce ``declared`` bytes, send ``data``, keep the connection: (reader, writer)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    auth = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write((f"PATCH {upload} HTTP/1.1\r\nHost: x\r\nUpload-Offset: 0\r\n{auth}"
                  f"Content-Length: {declared}\r\n\r\n").encode() + data)
    await writer.drain()
    return reader, writer


async def test_cut_connection_resumes_over_http(court, tmp_path):
    data = make_media(tmp_path / "v.webm", "webm-vp8", seconds=2.0).read_bytes()
    witness = await court.phone()
    http = court.client
    r = await http.post(court.uploads, headers=witness, json={
        "filename": "v.webm", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    assert r.status == 201
    upload = r.headers["Location"]

    # raw socket: announce the whole body, send 40 % of it, then the network drops
    cut = len(data) * 2 // 5
    _, writer = await send_part(http, upload, witness, data[:cut], len(data))
    await asyncio.sleep(0.2)
    writer.transport.abort()

    for _ in range(100):  # the server notices the reset and checkpoints what arrived
        r = await http.head(upload, headers=witness)
        if int(r.headers["Upload-Offset"]) == cut:
            break
        await asyncio.sleep(0.05)
    offset = int(r.headers["Upload-Offset"])
    assert offset == cut

    r = await http.patch(upload, data=data[offset:], headers={**witness, "Upload-Offset": "0"})
    assert r.status == 409 and r.headers["Upload-Offset"] == str(offset)
    r = await http.patch(upload, data=data[offset:],
                         headers={**witness, "Upload-Offset": str(offset)})
    assert r.status == 204 and r.headers["Upload-Offset"] == str(len(data))
    r = await http.post(upload + "/complete", headers=witness)
    assert r.status == 200
    body = await r.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["media"]["kind"] == "video"
    assert body["submitted_by"].endswith(":witness")
    assert len(await court.evidence()) == 1


async def test_refused_roles_and_bad_files_get_clear_statuses(court):
    http = court.client
    observer = await court.phone("observer")
    r = await http.post(court.uploads, headers=observer, json={"filename": "x", "size": 10})
    assert r.status == 403
    party_1, party_2 = await court.phone("plaintiff"), await court.phone("defendant")
    r = await http.post(court.uploads, headers=party_1, json={"filename": "x", "size": 10})
    other = r.headers["Location"]
    r = await http.patch(other, data=b"x" * 10, headers={**party_2, "Upload-Offset": "0"})
    assert r.status == 403  # not the submitter's upload
    zipped = b"PK\x03\x04" + b"\x00" * 200
    r = await http.post(court.uploads, headers=party_1,
                        json={"filename": "x.mp4", "size": len(zipped)})
    upload = r.headers["Location"]
    r = await http.patch(upload, data=zipped, headers={**party_1, "Upload-Offset": "0"})
    assert r.status == 204
    r = await http.post(upload + "/complete", headers=party_1)
    assert r.status == 422
    assert "ZIP" in (await r.json())["message"]
    r = await http.get(court.uploads + "/nonexistent-upload-id-000", headers=party_1)
    assert r.status == 404
    assert await court.evidence() == []


async def test_retry_takes_over_from_a_half_open_connection(court, tmp_path):
    data = make_media(tmp_path / "a.ogg", "ogg-opus", seconds=3.0).read_bytes()
    witness = await court.phone()
    http = court.client
    r = await http.post(court.uploads, headers=witness,
                        json={"filename": "a.ogg", "size": len(data)})
    upload = r.headers["Location"]
    cut = len(data) // 3
    # ...and then silence: no FIN, no RST (the phone changed networks)
    _, writer = await send_part(http, upload, witness, data[:cut], len(data))
    await asyncio.sleep(0.2)

    r = await http.head(upload, headers=witness)
    offset = int(r.headers["Upload-Offset"])  # the last durable checkpoint
    assert offset < cut
    r = await http.patch(upload, data=data[offset:],
                         headers={**witness, "Upload-Offset": str(offset)})
    if r.status == 409:  # the old connection had more than its last checkpoint: resume there
        offset = int(r.headers["Upload-Offset"])
        assert offset == cut
        r = await http.patch(upload, data=data[offset:],
                             headers={**witness, "Upload-Offset": str(offset)})
    assert r.status == 204
    r = await http.post(upload + "/complete", headers=witness)
    assert (await r.json())["sha256"] == hashlib.sha256(data).hexdigest()
    writer.transport.abort()


def test_download_names_are_labels_not_paths():
    h = content_disposition("../../etc/passwd", "evidence-1")
    assert h == "attachment; filename=\"passwd\"; filename*=UTF-8''passwd"
    h = content_disposition("C:\\Users\\Ерлан\\Видео қаз.mp4", "evidence-1", inline=True)
    assert h.startswith('inline; filename="evidence-1.mp4"; filename*=UTF-8\'\'%D0%92')
    h = content_disposition('a"b\r\nSet-Cookie: x.mp4', "evidence-1")
    assert "\r" not in h and "\n" not in h and h.count('"') == 2
    assert content_disposition(None, "evidence-1.bin").startswith('attachment; filename="evidence-1.bin"')
