"""A court of several servers end to end: two `courtroom serve` nodes and two `courtroom
asr-worker` processes on one PostgreSQL schema and one NATS server, the hearing transcribed by
the worker pool. Node A holds the hearing; a judge console follows it on each node; one
phone's page is on node A, the other's on node B (which sends it to A). The phones hear each
other and see each other's events, the words of one reach the consoles on both nodes and the
other phone, and the judge's admit, mute and eject sent to node B act on the media on node A.
The worker transcribing the speaker is killed (-9) mid-utterance: the words come late, once.
Then node A is killed (-9): node B takes the hearing over, the phone comes back to it, the
recording's gap is marked and the audit chain verifies. One test, so that the processes
start once; run with -s for the figures (start-up, caption latency, failover)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from sqlalchemy import select

from hearing.db import Database
from hearing.models import AuditEvent
from support.testpeer import HearingPeer, SignalTrack, tone

from hearing_testlib import PASSWORD, Staff, invite, make_users, receive_type, schedule
from test_hearing_asr_workers import CLIP_A, CLIP_B, start_worker, wait_ready
from test_hearing_crash import free_port, wait_up
from test_hearing_failover import (COURTROOM, TTL_S, Phone, chunks_of, lease_of, rows,
                                   start_node, stop_processes, until)
from test_hearing_live_asr import speech_48k
from test_hearing_nodes_media import admitted, energy, tone_of

RATE = 48_000
SPEECH_LEAD_S, SPEECH_TAIL_S = 0.5, 3.0  # the silence speech_48k puts around a clip


def say(mic: SignalTrack, clip: Path) -> tuple[float, float]:
    """The phone's microphone, playing a tone, says ``clip`` once, then is silent; returns
    when its words begin and end from now (s)."""
    speech = speech_48k(clip)
    mic.samples = np.concatenate([speech, np.zeros(RATE * 300, np.float32)])
    mic._pos = 0
    return SPEECH_LEAD_S, len(speech) / RATE - SPEECH_TAIL_S


async def staff_on(url: str) -> Staff:
    """The judge signed in on one node, in its own browser."""
    http = aiohttp.ClientSession(base_url=url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    r = await http.post("/api/login", json={"username": "judge", "password": PASSWORD})
    assert r.status == 200, await r.text()
    return Staff(http, (await r.json())["csrf_token"])


def heard(text: str, *stems: str) -> bool:
    """Whether ``text`` has every one of ``stems`` ("a|b": either). Stems, not whole words:
    how the model spells a word can differ from one CPU to another."""
    text = text.lower().replace("ё", "е")
    return all(any(alt in text for alt in stem.split("|")) for stem in stems)


async def finals_of(ws, source: str, *stems: str, timeout: float = 90) -> str:  # noqa: ANN001
    """What a console shows of ``source``'s finals, until all ``stems`` are in it."""
    said = ""
    deadline = time.monotonic() + timeout
    while not heard(said, *stems):
        try:  # (other messages keep coming: the wait is bounded as a whole)
            event = await asyncio.wait_for(receive_type(ws, "final", timeout),
                                           max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            raise AssertionError(f"{stems} not in {source}'s finals within {timeout:.0f} s; "
                                 f"they said: {said!r}") from None
        if event["source_id"] == source:
            said += " " + event["text"]
    return said


@pytest.mark.slow
@pytest.mark.skipif(not CLIP_B.exists(), reason="shared speech clips not present")
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_court_of_two_nodes_and_two_workers(db_url, nats_url, bus_prefix, tmp_path):
    import nats
    from asr.worker import PoolNames
    started = time.monotonic()
    db = Database(db_url)
    make_users(db)
    data = tmp_path / "shared"
    data.mkdir(mode=0o700)
    run = uuid.uuid4().hex[:6]
    workers = {name: start_worker(nats_url, bus_prefix, name, tmp_path)
               for name in (f"w1-{run}", f"w2-{run}")}
    ports = free_port(), free_port()
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    logs = [open(tmp_path / f"node-{n}.log", "w") for n in "ab"]
    nodes = [start_node(db_url, nats_url, bus_prefix, data, port, f"node-{n}-{run}",
                        ",".join(urls), log, transcribe=1, asr_mode="workers", node_url=url,
                        reconnect_window_s=30)
             for n, port, url, log in zip("ab", ports, urls, logs)]
    A, B = urls
    sessions: list[aiohttp.ClientSession] = []
    peers: list[HearingPeer] = []
    nc = witness = None
    try:
        await asyncio.gather(*(wait_up(u, p) for u, p in zip(urls, nodes)),
                             *(wait_ready(p) for p in workers.values()))
        print(f"\ntwo nodes and two workers up in {time.monotonic() - started:.1f} s")
        judge_a, judge_b = await staff_on(A), await staff_on(B)
        sessions += [judge_a.client, judge_b.client]
        hid = (await schedule(judge_a, language="ru"))["id"]
        w_inv = await invite(judge_a, hid, "witness", "Свидетель Ким")
        p_inv = await invite(judge_a, hid, "plaintiff", "Истец Ли")
        w_id, p_id = w_inv["participant"]["id"], p_inv["participant"]["id"]
        w_src, p_src = f"p{w_id}", f"p{p_id}"
        r = await judge_a.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
        assert r.status == 200, await r.text()  # node A holds the hearing now

        consoles = []
        for judge in (judge_a, judge_b):  # the judge's console on each node
            ws = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
            assert (await receive_type(ws, "hello"))["you"]["kind"] == "staff"
            consoles.append(ws)
        con_a, con_b = consoles

        # the witness's page is on node B, the plaintiff's on node A; both admitted through B
        phones = [aiohttp.ClientSession(), aiohttp.ClientSession()]
        sessions += phones
        node_a, node_b = (type("Node", (), {"url": u}) for u in urls)
        await admitted(phones[0], node_b, judge_b, hid, w_inv)
        await admitted(phones[1], node_a, judge_b, hid, p_inv)
        witness = Phone(B, hid, w_inv["token"])  # a phone page that follows "moved" and
        plaintiff = HearingPeer(phones[1], A, hid, p_inv["token"], "P",  # reconnects
                                SignalTrack(tone(660, 1.0)))
        peers.append(plaintiff)
        await witness.open(B)
        await plaintiff.connect()
        await asyncio.sleep(0.3)
        await asyncio.gather(witness.join(), plaintiff.peer.join())
        assert witness.base == A, "the witness went on at the owner by itself"

        # they hear each other
        await asyncio.sleep(2.5)
        w_heard, p_heard = plaintiff.peer.audio_from(w_src), witness.peer.audio_from(p_src)
        assert energy(w_heard[-RATE:]) > 0.05 and abs(tone_of(w_heard) - 440) < 10
        assert energy(p_heard[-RATE:]) > 0.05 and abs(tone_of(p_heard) - 660) < 10

        # they see each other's events: the witness's hand reaches node B's console and the
        # plaintiff
        await witness.ws.send_json({"type": "hand", "raised": True, "id": 7})
        hand = await receive_type(con_b, "hand")
        assert hand["participant"]["id"] == w_id and hand["participant"]["hand_raised"]
        await until(lambda: [e for e in plaintiff.of_type("hand")
                             if e["participant"]["id"] == w_id], 5)

        # captions: the witness speaks; its words reach both consoles and the plaintiff
        said_at = time.monotonic()
        _, end_s = say(witness.peer.audio, CLIP_A)
        said = await asyncio.gather(*(finals_of(ws, w_src, "парол", "наж|решет")
                                      for ws in consoles))
        latency = time.monotonic() - said_at - end_s
        print(f"final caption on both nodes' consoles {latency:.1f} s after the words ended: "
              f"{said[1].strip()!r}")
        await until(lambda: heard(" ".join(e["text"] for e in plaintiff.of_type("final")
                                           if e["source_id"] == w_src), "парол", "наж|решет"), 5)

        # the worker holding the witness's stream is killed mid-utterance: the words come late
        nc = await nats.connect(nats_url)
        leases = await nc.jetstream().key_value(PoolNames(bus_prefix).leases_bucket)
        [key] = [k for k in await leases.keys() if k.endswith(f".{w_src}")]
        holder = (await leases.get(key)).value.decode()
        assert holder in workers
        begin_s, end_s = say(witness.peer.audio, CLIP_B)
        await asyncio.sleep((begin_s + end_s) / 2)
        workers[holder].send_signal(signal.SIGKILL)
        workers[holder].wait(10)
        killed = time.monotonic()
        said = await finals_of(con_b, w_src, "неверн", "попроб|раз")
        print(f"words of the interrupted utterance on node B's console "
              f"{time.monotonic() - killed:.1f} s after the worker was killed: {said.strip()!r}")
        assert (await leases.get(key)).value.decode() != holder
        await asyncio.sleep(1.0)  # a word sent twice would be here by now
        r = await judge_b.get(f"/api/hearings/{hid}/transcript")
        segs = [s for s in (await r.json())["segments"] if s["source_id"] == w_src]
        texts = [s["text"] for s in segs]
        assert len({s["start_ms"] for s in segs}) == len(segs), texts
        spans = sorted((s["start_ms"], s["end_ms"]) for s in segs)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), (spans, texts)  # no words twice
        assert sum(heard(t, "наж|решет") for t in texts) == 1, texts
        assert sum(heard(t, "попроб|раз") for t in texts) == 1, texts
        print(f"witness segments: {json.dumps(texts, ensure_ascii=False)}")

        # the judge mutes the plaintiff through node B: the witness stops hearing it on node A
        r = await judge_b.post(f"/api/hearings/{hid}/participants/{p_id}/mute",
                               json={"muted": True})
        assert r.status == 200, await r.text()
        await until(lambda: [e for e in plaintiff.of_type("participant")
                             if e.get("action") == "mute" and e["participant"]["muted"]], 5)
        await asyncio.sleep(0.5)  # what was on its way
        mark = len(witness.peer.audio_from(p_src))
        await asyncio.sleep(1.5)
        assert energy(witness.peer.audio_from(p_src)[mark:]) < 0.01, "muted, yet heard"

        # ... and ejects it through node B: node A closes the plaintiff's socket with 4403
        r = await judge_b.post(f"/api/hearings/{hid}/participants/{p_id}/eject")
        assert r.status == 200, await r.text()
        await until(lambda: plaintiff.ws.closed, 10)
        assert plaintiff.ws.close_code == 4403
        left = await receive_type(con_b, "participant", 10)
        while left.get("action") != "eject":
            left = await receive_type(con_b, "participant", 10)
        assert left["participant"]["id"] == p_id

        # node A, the owner, is killed: node B takes the hearing over, the witness's phone
        # comes back to it, and the recording goes on there
        nodes[0].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        nodes[0].wait(10)
        acked = chunks_of(db, hid, w_src)  # what node A acknowledged before it died
        rejoin = asyncio.ensure_future(witness.join())
        await until(lambda: (lease_of(db, hid) or ("",))[0] == f"node-b-{run}", 4 * TTL_S,
                    0.02)
        print(f"lease on node B {time.monotonic() - killed:.2f} s after node A was killed "
              f"(lease TTL {TTL_S} s)")
        await asyncio.wait_for(rejoin, 30)
        print(f"the witness's phone back in the media on node B "
              f"{time.monotonic() - killed:.2f} s after the kill")
        assert witness.base == B
        told = await receive_type(con_b, "media", 10)
        while told["event"]["type"] != "node.takeover":
            told = await receive_type(con_b, "media", 10)
        await until(lambda: len(chunks_of(db, hid, w_src)) > len(acked), 30)

        r = await judge_b.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
        assert r.status == 200, await r.text()
        print(f"the whole court's test took {time.monotonic() - started:.1f} s")
    except BaseException:
        for path in sorted(tmp_path.glob("*.log")):  # what the nodes and workers said
            print(f"--- {path.name}\n{path.read_text()[-5000:]}")
        raise
    finally:
        if nc is not None:
            await nc.close()
        for peer in peers:
            await peer.close()
        if witness is not None:
            await witness.close()
        for session in sessions:
            await session.close()
        stop_processes([*nodes, *workers.values()], logs)

    # the gap where node A died is marked in the witness's recording; every chunk node A
    # acknowledged is in it; the audit chain verifies
    audit = rows(db, lambda s: [(e.action, e.data) for e in s.execute(
        select(AuditEvent).where(AuditEvent.hearing_id == hid).order_by(AuditEvent.seq))
        .scalars()])
    db.close()
    [takeover] = [d for act, d in audit if act == "node.takeover"]
    assert takeover["node_id"] == f"node-b-{run}" and takeover["fence"] == 2
    gap = next(g for g in takeover["gaps"] if g["source_id"] == w_src)
    assert gap["from_ms"] >= acked[-1][2]
    final = next(d for act, d in audit if act == "recording.final" and d["source_id"] == w_src)
    assert {sha for sha, _, _ in acked} <= set(final["chunks"])
    assert any(abs(g0 - gap["from_ms"]) <= 100 and g1 >= gap["to_ms"]
               for g0, g1 in final["gaps"]), (final["gaps"], gap)
    out = subprocess.run([str(COURTROOM), "audit", "verify", str(hid)],
                         env={**os.environ, "COURTROOM_DATABASE_URL": db_url,
                              "COURTROOM_DATA_DIR": str(data)},
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
