"""Media of a court of several servers: a hearing's media runs on the node that holds its lease,
and a phone that reaches another node is sent there ({"type": "moved"}) and goes on by itself;
its events still reach everybody on every node. Two nodes in one process, on PostgreSQL and
NATS."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from hearing.api.context import STATE
from hearing.app import make_app
from hearing.config import Config
from hearing.db import Database
from hearing.models import AuditEvent

from hearing_testlib import SPEECH, OwnServer, invite, login, make_users, receive_type, schedule
from support.testpeer import HearingPeer, SignalTrack, tone

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_node(db_url: str, data_dir: Path, nats_url: str, bus_prefix: str, name: str,
                     transcribe: bool = False) -> OwnServer:
    """A node on a port known before it starts, so that its node_url (where phones are sent)
    is its real address."""
    port = free_port()
    cfg = Config(data_dir=data_dir, database_url=db_url, nats_url=nats_url, bus_prefix=bus_prefix,
                 node_id=f"node-{name}-{uuid.uuid4().hex[:6]}",
                 node_url=f"http://127.0.0.1:{port}", transcribe=transcribe,
                 rtc_bind="127.0.0.1", reconnect_window_s=30)
    node = OwnServer(make_app(cfg, node_db := Database(db_url)))
    node.server = TestServer(node.app, host="127.0.0.1", port=port)
    node.url, node.db = cfg.node_url, node_db
    return await node.start()


async def stop(nodes: list[OwnServer], sessions: list[aiohttp.ClientSession]) -> None:
    for session in sessions:
        await session.close()
    for node in nodes:
        await node.close_clients()
        await node.server.close()
        node.db.close()


def tone_of(x: np.ndarray) -> float:
    """The strongest frequency of the last second heard (Hz)."""
    tail = x[-48000:]
    return float(np.argmax(np.abs(np.fft.rfft(tail))) * 48000 / len(tail))


def energy(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x ** 2))) if len(x) else 0.0


async def admitted(phone: aiohttp.ClientSession, node: OwnServer, judge, hid: int,
                   inv: dict) -> None:
    bearer = {"Authorization": f"Bearer {inv['token']}"}
    r = await phone.post(f"{node.url}/api/join", headers=bearer)
    assert r.status == 200, await r.text()
    r = await judge.post(f"/api/hearings/{hid}/participants/{inv['participant']['id']}/admit")
    assert r.status == 200, await r.text()


async def test_a_phone_on_another_node_is_sent_to_the_owner_and_everyone_hears_it(
        db_url, tmp_path, nats_url, bus_prefix):
    db = Database(db_url)
    make_users(db)
    data = tmp_path / "shared"  # the data directory all nodes mount
    a = await start_node(db_url, data, nats_url, bus_prefix, "a")
    b = await start_node(db_url, data, nats_url, bus_prefix, "b")
    phones = [aiohttp.ClientSession(), aiohttp.ClientSession()]
    peers: list[HearingPeer] = []
    try:
        judge = await login(a.client, a.app, "judge")
        h = await schedule(judge)
        hid = h["id"]
        me = next(p for p in (await (await judge.get(
            f"/api/hearings/{hid}/participants")).json())["participants"] if p["role"] == "judge")
        w_inv = await invite(judge, hid, "witness", "Witness B")
        p_inv = await invite(judge, hid, "plaintiff", "Plaintiff A")
        r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
        assert r.status == 200, await r.text()  # node a holds the hearing now
        await admitted(phones[0], b, judge, hid, w_inv)
        await admitted(phones[1], a, judge, hid, p_inv)

        jpeer = HearingPeer(judge.client.session, a.url, hid, None, "J",
                            SignalTrack(tone(880, 1.0)))
        witness = HearingPeer(phones[0], b.url, hid, w_inv["token"], "W",
                              SignalTrack(tone(440, 1.0)))
        plaintiff = HearingPeer(phones[1], a.url, hid, p_inv["token"], "P",
                                SignalTrack(tone(660, 1.0)))
        peers += [jpeer, witness, plaintiff]
        await jpeer.connect()
        hello = await witness.connect()
        assert hello["media_url"] == a.url, "node b says where the media runs"
        await plaintiff.connect()
        await asyncio.sleep(0.3)  # node b's subscription to the hearing reaches NATS
        for peer in (jpeer, witness, plaintiff):
            await peer.peer.join()

        moved = witness.of_type("moved")
        assert moved == [{"type": "moved", "url": a.url, "hearing_id": hid}]
        assert witness.urls == [b.url, a.url], "the witness went on at the owner by itself"
        assert plaintiff.urls == [a.url] and not plaintiff.of_type("moved")

        w_src, p_src, j_src = (f"p{w_inv['participant']['id']}",
                               f"p{p_inv['participant']['id']}", f"p{me['id']}")
        await asyncio.sleep(3.0)
        speaker = {w_src: "W", p_src: "P", j_src: "J"}
        heard = {(who.peer.name, src): who.peer.audio_from(src)  # everybody hears the others
                 for who in peers for src in speaker if speaker[src] != who.peer.name}
        for (listener, src), x in heard.items():
            assert energy(x) > 0.05, f"{listener} does not hear {src}"
        assert abs(tone_of(heard[("P", w_src)]) - 440) < 10, "the plaintiff hears the witness"
        assert abs(tone_of(heard[("W", p_src)]) - 660) < 10, "the witness hears the plaintiff"
        assert abs(tone_of(heard[("J", w_src)]) - 440) < 10
        assert abs(tone_of(heard[("J", p_src)]) - 660) < 10
        assert abs(tone_of(heard[("W", j_src)]) - 880) < 10

        # The witness's own events still flow: its hand reaches the judge (node a) and a
        # console on node b; the judge's mute reaches the witness.
        admin = await login(b.client, b.app, "admin")
        wws = await admin.client.ws_connect(f"/api/hearings/{hid}/ws")
        await receive_type(wws, "hello")
        await asyncio.sleep(0.3)
        await witness.ws.send_json({"type": "hand", "raised": True, "id": 7})
        hand = await receive_type(wws, "hand")
        assert hand["participant"]["id"] == w_inv["participant"]["id"]
        for _ in range(50):
            if witness.of_type("hand"):
                break
            await asyncio.sleep(0.1)
        assert witness.of_type("hand")[0]["participant"]["hand_raised"] is True
        r = await judge.post(f"/api/hearings/{hid}/participants/{w_inv['participant']['id']}/mute",
                             json={"muted": True})
        assert r.status == 200
        for _ in range(50):
            if any(e["participant"]["muted"] for e in witness.of_type("participant")
                   if e.get("action") == "mute"):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the witness did not hear of its mute")
        await wws.close()

        # Moving is not leaving: the judge saw no "left" of the witness, nor the audit log.
        assert not [e for e in jpeer.events if e["type"] == "left"
                    and e["participant_id"] == w_inv["participant"]["id"]]
        rows = await db.run(lambda s: [(e.action, e.data) for e in s.execute(
            select(AuditEvent).where(AuditEvent.hearing_id == hid)).scalars()])
        assert not [d for act, d in rows
                    if act == "leave" and d.get("participant_id") == w_inv["participant"]["id"]]
        joined = [d["source_id"] for act, d in rows if act == "participant.joined"]
        assert w_src in joined and p_src in joined, "both seats joined the owner's room"
        r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
        assert r.status == 200
    finally:
        for peer in peers:
            await peer.close()
        await stop([a, b], phones)
        db.close()


async def test_a_join_on_a_node_that_does_not_hold_the_hearing_answers_moved(
        db_url, tmp_path, nats_url, bus_prefix):
    """Node a holds the hearing; on node b a participant is told where its media runs (hello,
    then "moved" on join), other signalling before a join is refused, and its going there is
    not recorded as a leave."""
    db = Database(db_url)
    make_users(db)
    a = await start_node(db_url, tmp_path, nats_url, bus_prefix, "a")
    b = await start_node(db_url, tmp_path, nats_url, bus_prefix, "b")
    phone = aiohttp.ClientSession()
    try:
        judge = await login(a.client, a.app, "judge")
        hid = (await schedule(judge))["id"]
        inv = await invite(judge, hid)
        r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
        assert r.status == 200, await r.text()
        await admitted(phone, b, judge, hid, inv)

        ws = await phone.ws_connect(f"{b.url}/api/hearings/{hid}/ws")
        await ws.send_json({"type": "auth", "token": inv["token"]})
        hello = await receive_type(ws, "hello")
        assert hello["media_url"] == a.url
        await ws.send_json({"type": "answer", "sdp": "v=0", "id": 1})
        assert (await receive_type(ws, "error"))["error"] == "no_media"
        await ws.send_json({"type": "join", "id": 2})
        assert await receive_type(ws, "moved") == {"type": "moved", "url": a.url,
                                                   "hearing_id": hid}
        assert a.app[STATE].live.lease(hid) is not None, "node a still holds the hearing"
        assert b.app[STATE].live.get(hid) is None, "node b holds no media of it"
        jws = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
        assert (await receive_type(jws, "hello"))["media_url"] is None, "node a holds it"
        await ws.close()  # the phone goes to node a
        with pytest.raises(asyncio.TimeoutError):
            await receive_type(jws, "left", timeout=1.5)
        await jws.close()
        r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
        assert r.status == 200
    finally:
        await stop([a, b], [phone])
        db.close()


CLIP = SPEECH / "ru-dev" / "ast_ru_auth-incorrect.wav"  # "Пароль неверен. Введите пароль ..."


@pytest.mark.slow
@pytest.mark.skipif(not CLIP.exists(), reason="shared speech clips not present")
async def test_the_moved_witness_words_reach_consoles_on_both_nodes(db_url, tmp_path, nats_url,
                                                                     bus_prefix):
    """The witness reaches node b, is sent to node a, speaks: its words are transcribed where
    its media is and reach the judge on node a, a console on node b and the witness itself."""
    from test_hearing_live_asr import speech_48k
    db = Database(db_url)
    make_users(db)
    a = await start_node(db_url, tmp_path, nats_url, bus_prefix, "a", transcribe=True)
    b = await start_node(db_url, tmp_path, nats_url, bus_prefix, "b", transcribe=True)
    phone = aiohttp.ClientSession()
    witness = None
    try:
        judge = await login(a.client, a.app, "judge")
        hid = (await schedule(judge, language="ru"))["id"]
        inv = await invite(judge, hid, "witness", "Свидетель Ким")
        await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
        await admitted(phone, b, judge, hid, inv)
        jws = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
        admin = await login(b.client, b.app, "admin")
        bws = await admin.client.ws_connect(f"/api/hearings/{hid}/ws")
        for ws in (jws, bws):
            await receive_type(ws, "hello")
        witness = HearingPeer(phone, b.url, hid, inv["token"], "W", SignalTrack(speech_48k(CLIP)))
        await witness.connect()
        await asyncio.sleep(0.3)
        await witness.peer.join()
        assert witness.urls == [b.url, a.url]

        async def words(ws) -> str:  # noqa: ANN001
            said = ""
            while "парол" not in said.lower():
                said += " " + (await receive_type(ws, "final", timeout=120))["text"]
            return said
        said_a, said_b = await asyncio.gather(words(jws), words(bws))
        assert "парол" in said_a.lower() and "парол" in said_b.lower()
        mine = [e for e in witness.of_type("final") if e["source_id"] == f"p{inv['participant']['id']}"]
        assert mine and mine[0]["speaker"]["label"] == "Свидетель Ким", "the witness sees its captions"
        for ws in (jws, bws):
            await ws.close()
        await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
    finally:
        if witness is not None:
            await witness.close()
        await stop([a, b], [phone])
        db.close()
