"""Small helpers for API tests: staff accounts, signed-in clients, a scheduled hearing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from hearing import audit
from hearing.accounts import add_user

PASSWORD = "correct horse battery"
#: The signing keys' passphrase where a test signs.
KEY_PASS = "a long signing passphrase"
#: A lawyer's account (a party caller) for the tests that need one.
LAWYER = {"username": "lawyer", "password": PASSWORD, "role": "lawyer",
          "display_name": "Адвокат Омаров Н.", "contact": "omarov@example.kz"}
#: Real speech clips (../shared/speech beside the checkout)
SPEECH = Path(__file__).resolve().parents[2].parent / "shared" / "speech"


class OwnServer:
    """A server the test stops itself (to see what shutdown does), and its HTTP clients;
    `client` has the shape of pytest-aiohttp's `aiohttp_client`, so `login` takes it."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app
        self.server = TestServer(app)
        self.clients: list[TestClient] = []

    async def start(self) -> "OwnServer":
        await self.server.start_server()
        return self

    async def client(self, _app=None) -> TestClient:  # noqa: ANN001
        client = TestClient(self.server)
        await client.start_server()
        self.clients.append(client)
        return client

    async def close_clients(self) -> None:
        for client in self.clients:
            await client.close()


@asynccontextmanager
async def two_nodes(db_url: str, tmp_path: Path, nats_url: str, bus_prefix: str,
                    **config) -> AsyncIterator[list[OwnServer]]:  # noqa: ANN003
    """A court of two in-process nodes, "a" and "b": one database (staff accounts made once)
    and one NATS server, each node with its own Database (``node.db``), data directory
    (``tmp_path / name``) and node id; speech recognition off unless ``config`` says so.
    Both are stopped, and their databases closed, on leaving."""
    from hearing.app import make_app
    from hearing.config import Config
    from hearing.db import Database

    nodes: list[OwnServer] = []
    try:
        for name in ("a", "b"):
            db = Database(db_url)
            if not nodes:
                make_users(db)
            cfg = Config(data_dir=tmp_path / name, database_url=db_url, nats_url=nats_url,
                         bus_prefix=bus_prefix, node_id=f"node-{name}-{uuid.uuid4().hex[:6]}",
                         **{"transcribe": False, **config})
            node = OwnServer(make_app(cfg, db))
            node.db = db
            nodes.append(await node.start())
        yield nodes
    finally:
        for node in nodes:
            await node.close_clients()
            await node.server.close()
        for node in nodes:
            node.db.close()


async def sign_first_version(secretary, judge, hid: int, passphrase: str) -> None:
    """Both make their signing keys; the secretary makes version 1 of the stenogram and both
    sign it, so that it is signed."""
    for who in (secretary, judge):
        r = await who.post("/api/me/signing-key", json={"passphrase": passphrase})
        assert r.status == 201, await r.text()
    r = await secretary.post(f"/api/hearings/{hid}/stenogram/versions")
    assert r.status == 201, await r.text()
    for who in (secretary, judge):
        r = await who.post(f"/api/hearings/{hid}/stenogram/versions/1/sign",
                           json={"passphrase": passphrase})
        assert r.status == 200, await r.text()
    assert (await r.json())["status"] == "signed"


def make_users(db) -> dict[str, int]:
    def work(s):
        ids = {}
        for name, role in (("admin", "admin"), ("judge", "judge"), ("judge2", "judge"),
                           ("secretary", "secretary")):
            u = add_user(s, name, PASSWORD, role, f"{name.title()} Name")
            audit.append(s, 0, "test", "user.create", {"user_id": u.id})
            ids[name] = u.id
        return ids
    return db.run_sync(work)


@dataclass
class Staff:
    client: object
    csrf: str

    def _h(self, headers=None):
        return {"X-CSRF-Token": self.csrf, **(headers or {})}

    async def get(self, path, **kw):
        return await self.client.get(path, **kw)

    async def post(self, path, json=None, **kw):
        return await self.client.post(path, json=json, headers=self._h(kw.pop("headers", None)),
                                      **kw)

    async def patch(self, path, json=None, **kw):
        return await self.client.patch(path, json=json, headers=self._h(kw.pop("headers", None)),
                                       **kw)

    async def delete(self, path, **kw):
        return await self.client.delete(path, headers=self._h(kw.pop("headers", None)), **kw)


async def login(aiohttp_client, app, username) -> Staff:
    client = await aiohttp_client(app)
    r = await client.post("/api/login", json={"username": username, "password": PASSWORD})
    assert r.status == 200, await r.text()
    return Staff(client, (await r.json())["csrf_token"])


async def schedule(judge: Staff, secretary_id: int | None = None, **extra) -> dict:
    body = {"case_number": "2-1234/2026", "title": "Иванов А. к ТОО «Береке»", "kind": "civil",
            "language": "kk+ru", **extra}
    if secretary_id:
        body["secretary_id"] = secretary_id
    r = await judge.post("/api/hearings", json=body)
    assert r.status == 201, await r.text()
    return await r.json()


async def invite(staff: Staff, hearing_id: int, role="witness", name="Сидоров С.С.") -> dict:
    r = await staff.post(f"/api/hearings/{hearing_id}/participants",
                         json={"role": role, "display_name": name, "contact": "+7 700 000 0000"})
    assert r.status == 201, await r.text()
    p = await r.json()
    r = await staff.post(f"/api/hearings/{hearing_id}/participants/{p['id']}/invites", json={})
    assert r.status == 201, await r.text()
    return {"participant": p, **(await r.json())}


async def case_lawyer(aiohttp_client, app, admin: Staff, judge: Staff, hearing: dict) -> Staff:
    """The LAWYER account, made by the administrator, linked to the hearing's case as the
    defence lawyer by its judge, and signed in."""
    lawyer_id = (await (await admin.post("/api/users", json=LAWYER)).json())["id"]
    r = await judge.post(f"/api/cases/{hearing['case_id']}/parties", json={
        "role": "defence_lawyer", "display_name": "Омаров Н.", "user_id": lawyer_id})
    assert r.status == 201, await r.text()
    return await login(aiohttp_client, app, "lawyer")


async def record_readers(aiohttp_client, app, ids) -> tuple:
    """Everyone who reads a hearing's record, signed in: (admin, judge, secretary, the
    hearing, the case's lawyer, an invited witness, the witness's Bearer header, a client to
    send it from)."""
    admin = await login(aiohttp_client, app, "admin")
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    h = await schedule(judge, ids["secretary"])
    lawyer = await case_lawyer(aiohttp_client, app, admin, judge, h)
    witness = await invite(judge, h["id"])
    bearer = {"Authorization": f"Bearer {witness['token']}"}
    return admin, judge, sec, h, lawyer, witness, bearer, await aiohttp_client(app)


async def receive_type(ws, kind, timeout=5.0):
    """The next WebSocket message of this type (others are skipped)."""
    while True:
        msg = await asyncio.wait_for(ws.receive_json(), timeout)
        if msg["type"] == kind:
            return msg


def app_with_users(db_url: str, tmp_path: Path, **config):  # noqa: ANN201
    """(app, database, user ids) for a fresh server on db_url with the standard staff."""
    from hearing.app import make_app
    from hearing.config import Config
    from hearing.db import Database
    db = Database(db_url)
    ids = make_users(db)
    return make_app(Config(data_dir=tmp_path, database_url=db_url, **config), db), db, ids
