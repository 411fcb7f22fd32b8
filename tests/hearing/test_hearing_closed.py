"""Closed parts and access levels, through the real server over real WebRTC, on both
databases: while the judge holds a closed part an observer's phone receives no audio, no video
and no captions while a witness still does (both connections stay up), and after it both do;
what was said in it is left out of what the observer and the public are served (protocol with
one line in its place), a sealed part marked after the fact also from a lawyer and the court
administrator (transcript, documents, search, recordings) while the judge keeps everything; a
sealed evidence item is closed to a party; a closed hearing admits no observer; and every
change is refused to a role that may not make it."""

from __future__ import annotations

import asyncio
import time
from sqlalchemy import select

from hearing.api.context import STATE
from hearing.models import AuditEvent
from asr.events import TranscriptEvent
from support.media_samples import make_image
from support.testpeer import PacketVideoTrack, SignalTrack, TestPeer, encode_vp8_loop, tone

from hearing_testlib import (KEY_PASS, app_with_users, case_lawyer, invite, login, receive_type,
                             schedule, sign_first_version)
from test_hearing_evidence import accept, upload

OPEN_TEXT = "Свидетель назвал дату договора"
CLOSED_TEXT = "Сведения о несовершеннолетнем потерпевшем"
AFTER_TEXT = "Заседание продолжается открыто"
SEALED_TEXT = "Номер банковского счёта прочитан ошибочно"


class Phone:
    """A participant's phone: its WebSocket (every message kept) and its aiortc peer."""

    def __init__(self, ws, name, audio=None, video=None):
        self.ws = ws
        self.events: list[dict] = []
        self.peer = TestPeer(name, self.ws.send_json, audio=audio, video=video)
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        async for msg in self.ws:
            data = msg.json()
            self.events.append(data)
            if data["type"] in ("offer", "tracks", "closed", "error"):
                await self.peer.on_server_message(data)

    def of_type(self, kind):
        return [e for e in self.events if e["type"] == kind]

    def captions(self):
        return [e["text"] for e in self.events if e["type"] in ("partial", "final")]

    def received(self, source):
        return len(self.peer.audio_from(source)), self.peer.video_frames_from(source)

    async def close(self):
        await self.peer.close()
        self.reader.cancel()
        await self.ws.close()


async def wait_for(test, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not test():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def join_phone(aiohttp_client, app, judge, hid, role, name, audio=None, video=None):
    inv = await invite(judge, hid, role, name)
    pid = inv["participant"]["id"]
    client = await aiohttp_client(app)
    bearer = {"Authorization": f"Bearer {inv['token']}"}
    assert (await client.post("/api/join", headers=bearer)).status == 200
    assert (await judge.post(f"/api/hearings/{hid}/participants/{pid}/admit")).status == 200
    ws = await client.ws_connect(f"/api/hearings/{hid}/ws")
    await ws.send_json({"type": "auth", "token": inv["token"]})
    phone = Phone(ws, name, audio, video)
    await phone.peer.join()
    phone.source, phone.client, phone.bearer = f"p{pid}", client, bearer
    return phone


async def put(staff, path, body):
    return await staff.client.put(path, json=body, headers={"X-CSRF-Token": staff.csrf})


def say(state, hid, source, start_ms, text, n):
    """The recogniser's final for ``source`` at ``start_ms``, as the live hearing receives it
    (stored as a machine segment and sent as a caption)."""
    live = state.live.get(hid)
    state.live.transcription._on_event(live, TranscriptEvent(
        "final", source, f"{source}#{n}", start_ms, start_ms + 800, text, language="ru",
        model="test", committed=len(text.split())))


async def test_closed_part_cuts_off_observers_and_is_withheld(aiohttp_client, db_url, tmp_path):
    app, db, ids = app_with_users(db_url, tmp_path, transcribe=False, rtc_bind="127.0.0.1",
                                  reconnect_window_s=30)
    state = app[STATE]
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    admin = await login(aiohttp_client, app, "admin")
    h = await schedule(judge, ids["secretary"], language="ru")
    hid = h["id"]
    lawyer = await case_lawyer(aiohttp_client, app, admin, judge, h)
    base = f"/api/hearings/{hid}"
    await judge.post(f"{base}/transitions", json={"to": "open"})
    clock = state.live.get(hid).clock

    vp8 = encode_vp8_loop(160, 96, fps=15, seconds=1.0)
    witness = await join_phone(aiohttp_client, app, judge, hid, "witness", "Сидоров С.С.",
                               SignalTrack(tone(620.0)), PacketVideoTrack(vp8, fps=15))
    expert = await join_phone(aiohttp_client, app, judge, hid, "expert", "Эксперт Е.Е.",
                              SignalTrack(tone(820.0)), PacketVideoTrack(vp8, fps=15))
    observer = await join_phone(aiohttp_client, app, judge, hid, "observer", "Наблюдатель")
    src, other = witness.source, expert.source
    await wait_for(lambda: all(n > 4800 and v > 5 for n, v in (
        observer.received(src), observer.received(other), witness.received(other))))
    say(state, hid, src, clock.now_ms() - 1000, OPEN_TEXT, 1)
    await wait_for(lambda: OPEN_TEXT in observer.captions() and OPEN_TEXT in witness.captions())

    # only the presiding judge closes a part; a level outside the two closed ones is refused
    for who in (sec, admin, lawyer):
        r = await who.post(f"{base}/closures", json={"level": "restricted", "reason": "x"})
        assert r.status == 403, await r.text()
    r = await witness.client.post(f"{base}/closures", json={"level": "restricted"},
                                  headers=witness.bearer)
    assert r.status in (401, 403)
    assert (await judge.post(f"{base}/closures", json={"level": "public"})).status == 400

    r = await judge.post(f"{base}/closures", json={
        "level": "restricted", "reason": "ст. 29 ГПК: сведения о несовершеннолетнем"})
    assert r.status == 201, await r.text()
    span = (await r.json())["open"]
    assert span["level"] == "restricted" and span["end_ms"] is None
    assert (await judge.post(f"{base}/closures", json={"level": "sealed"})).status == 409
    # everyone is told a closed part runs (no reason, no level), the staff the details
    await wait_for(lambda: observer.of_type("closed_part") and witness.of_type("closed_part"))
    assert observer.of_type("closed_part")[-1] == {"type": "closed_part", "state": "started",
                                                   "at_ms": span["start_ms"]}
    await asyncio.sleep(0.8)  # what was already on its way arrives
    cut = (observer.received(src), observer.received(other))
    heard = witness.received(other)
    say(state, hid, src, span["start_ms"] + 200, CLOSED_TEXT, 2)
    await wait_for(lambda: CLOSED_TEXT in witness.captions())
    await asyncio.sleep(2.0)
    # the observer got nothing more (at most what the jitter buffer still held: under a
    # tenth of the 2 s), the witness went on hearing and seeing the expert
    for now, before in zip((observer.received(src), observer.received(other)), cut):
        assert now[0] - before[0] < 9600 and now[1] - before[1] <= 2, (now, before)
    assert CLOSED_TEXT not in observer.captions()
    now = witness.received(other)
    assert now[0] - heard[0] > 48_000 and now[1] - heard[1] > 10
    assert not observer.ws.closed and observer.peer.pc.connectionState == "connected"

    # a phone reconnecting during the closed part is cut off from its first packet
    await observer.peer.join()
    await asyncio.sleep(1.5)
    assert observer.received(src)[0] - cut[0][0] < 9600

    r = await judge.post(f"{base}/closures/end")
    assert r.status == 200, await r.text()
    ended = (await r.json())["spans"][0]
    assert ended["end_ms"] >= span["start_ms"] + 2000
    assert (await judge.post(f"{base}/closures/end")).status == 409
    await wait_for(lambda: observer.of_type("closed_part")[-1]["state"] == "ended")
    await wait_for(lambda: observer.received(src)[0] > cut[0][0] + 9600
                   and observer.received(other)[1] > cut[1][1] + 3)
    after_ms = clock.now_ms()
    say(state, hid, src, after_ms, AFTER_TEXT, 3)
    await wait_for(lambda: AFTER_TEXT in observer.captions())

    # read out by mistake: said in the open, sealed by the secretary afterwards
    await wait_for(lambda: clock.now_ms() > after_ms + 1200)
    sealed_ms = clock.now_ms()
    say(state, hid, src, sealed_ms, SEALED_TEXT, 4)
    await wait_for(lambda: SEALED_TEXT in observer.captions())
    await wait_for(lambda: clock.now_ms() > sealed_ms + 1100)
    mark = {"start_ms": sealed_ms - 200, "end_ms": sealed_ms + 1000, "level": "sealed",
            "reason": "оглашены банковские реквизиты"}
    r = await lawyer.post(f"{base}/closures/marks", json=mark)
    assert r.status == 403
    assert (await sec.post(f"{base}/closures/marks", json={**mark, "end_ms": 10**12})
            ).status == 400
    r = await sec.post(f"{base}/closures/marks", json=mark)
    assert r.status == 201, await r.text()
    closures = await (await admin.get(f"{base}/closures")).json()
    assert [s["level"] for s in closures["spans"]] == ["restricted", "sealed"]
    assert (await lawyer.get(f"{base}/closures")).status == 403

    # the transcript: the judge has everything, the administrator not the sealed part
    def texts(body):
        return [s["text"] for s in body["segments"]]
    mine = texts(await (await judge.get(f"{base}/transcript")).json())
    assert mine == [OPEN_TEXT, CLOSED_TEXT, AFTER_TEXT, SEALED_TEXT]
    assert texts(await (await admin.get(f"{base}/transcript")).json()) == [
        OPEN_TEXT, CLOSED_TEXT, AFTER_TEXT]

    # recordings: a chunk over the sealed part is neither listed nor served to the admin
    over: list[dict] = []
    for _ in range(100):  # a chunk is listed once closed (every two seconds)
        chunks = (await (await judge.get(f"{base}/recordings?limit=200")).json())["recordings"]
        over = [c for c in chunks if c["source_id"] == src and c["start_ms"] < mark["end_ms"]
                and c["end_ms"] > mark["start_ms"]]
        if over:
            break
        await asyncio.sleep(0.2)
    assert over, chunks
    listed = (await (await admin.get(f"{base}/recordings?limit=200")).json())["recordings"]
    assert not {c["id"] for c in over} & {c["id"] for c in listed} and listed
    r = await admin.get(over[0]["url"])
    assert r.status == 403 and "sealed" in (await r.json())["message"]
    assert (await judge.get(over[0]["url"])).status == 200

    # the signed record, as each reader is served it
    await sign_first_version(sec, judge, hid, KEY_PASS)
    r = await observer.client.get(f"{base}/export/txt", headers=observer.bearer)
    assert r.status == 200, await r.text()
    public = await r.text()
    assert OPEN_TEXT in public and AFTER_TEXT in public
    assert CLOSED_TEXT not in public and SEALED_TEXT not in public
    assert public.count("[Закрытая часть заседания ") == 2
    r = await lawyer.get(f"{base}/export/srt")
    party = await r.text()
    assert r.status == 200 and CLOSED_TEXT in party and SEALED_TEXT not in party
    assert "[Закрытая часть заседания " in party
    r = await lawyer.get(f"{base}/export/json")
    assert SEALED_TEXT not in await r.text()
    r = await judge.get(f"{base}/export/txt")
    assert SEALED_TEXT in await r.text() and CLOSED_TEXT in await r.text()
    r = await admin.get(f"{base}/bundle")
    assert r.status == 403 and "closed parts" in (await r.json())["message"]

    # search: the sealed words are found by the judge only
    async def found(who, q):
        r = await who.get("/api/search", params={"q": q})
        assert r.status == 200, await r.text()
        return len((await r.json())["results"])
    assert await found(judge, "банковского счёта") == 1
    assert await found(lawyer, "банковского счёта") == 0
    assert await found(admin, "банковского счёта") == 0
    assert await found(lawyer, "несовершеннолетнем") == 1

    # an evidence item the judge seals is closed to the lawyer, in the list and by id
    png = make_image(tmp_path / "photo.png").read_bytes()
    status, item = await upload(judge, hid, png, filename="photo.png", content_type="image/png")
    assert status in (200, 201), item
    eid = item["evidence_id"]
    await accept(judge, hid, eid)
    assert (await lawyer.get(f"{base}/evidence/{eid}")).status == 200
    r = await put(sec, f"{base}/evidence/{eid}/access", {"level": "sealed"})
    assert r.status == 403
    r = await put(judge, f"{base}/evidence/{eid}/access", {"level": "sealed"})
    assert r.status == 200, await r.text()
    assert (await lawyer.get(f"{base}/evidence/{eid}")).status == 403
    listed = (await (await lawyer.get(f"{base}/evidence")).json())["evidence"]
    assert eid not in [e["id"] for e in listed]
    assert (await judge.get(f"{base}/evidence/{eid}")).status == 200

    # a closed hearing: the observer is sent away and cannot come back
    assert (await put(admin, f"{base}/access", {"level": "restricted"})).status == 403
    r = await put(judge, f"{base}/access", {"level": "restricted"})
    assert r.status == 200, await r.text()
    await wait_for(lambda: observer.ws.closed)
    assert observer.of_type("hearing_closed")
    ws = await observer.client.ws_connect(f"{base}/ws")
    await ws.send_json({"type": "auth", "token": observer.bearer["Authorization"][7:]})
    refusal = await receive_type(ws, "error")
    assert refusal["error"] == "hearing_closed"
    await ws.close()
    assert not witness.ws.closed  # the parties stay

    def logged(s):
        return [e.action for e in s.execute(select(AuditEvent).where(
            AuditEvent.hearing_id == hid, AuditEvent.action.in_(
                ("closure.open", "closure.end", "closure.mark", "access.hearing",
                 "evidence.access"))).order_by(AuditEvent.id)).scalars()]
    assert await db.run(logged) == ["closure.open", "closure.end", "closure.mark",
                                    "evidence.access", "access.hearing"]
    for phone in (witness, expert, observer):
        await phone.close()
    assert (await judge.post(f"{base}/transitions", json={"to": "closed"})).status == 200


def test_levels_over_time_and_the_public_copy():
    """The rules without a server: the strictest span over a range wins, an open span reaches
    to the end, a span ending where a segment starts does not touch it; the copy a caller
    without the level gets leaves the part out and prints one line in the record's
    language."""
    from hearing.closures import Span, View, caption_level, level_at, level_over, public_copy

    spans = (Span(10_000, 20_000, "restricted"), Span(15_000, 16_000, "sealed"),
             Span(60_000, None, "restricted"))
    assert level_at(spans, 9_999) == "public" and level_at(spans, 10_000) == "restricted"
    assert level_over(spans, 14_000, 15_500) == "sealed"
    assert level_over(spans, 20_000, 21_000) == "public"  # ends where the segment starts
    assert level_at(spans, 10**9) == "restricted"  # still open
    assert caption_level([{"start_ms": 1000, "end_ms": None, "level": "sealed"}],
                         500, 1200) == "sealed"
    doc = {"hearing": {"language": "kk"}, "segments": [
        {"segment_id": "a", "start_ms": 1000, "end_ms": 2000, "text": "ашық"},
        {"segment_id": "b", "start_ms": 11_000, "end_ms": 12_000, "text": "жабық"}]}
    observer = View("public", frozenset({"public"}), spans[:2])
    copy, left_out = public_copy(observer, doc)
    assert [s["text"] for s in copy["segments"]] == ["ашық"]
    # overlapping parts make one line
    assert [x.text for x in left_out] == ["[Жабық сот отырысы бөлігі 00:00:10–00:00:20]"]
    assert doc["segments"][1]["text"] == "жабық"  # the version itself is untouched
    court = View("public", frozenset({"public", "restricted", "sealed"}), spans)
    assert public_copy(court, doc) == (doc, []) and court.whole
    assert not observer.whole and observer.withheld(0, 10_500) is not None
