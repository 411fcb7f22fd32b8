"""Small helpers for API tests: staff accounts, signed-in clients, a scheduled hearing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from hearing import audit
from hearing.accounts import add_user

PASSWORD = "correct horse battery"
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
