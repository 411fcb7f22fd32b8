"""Gaps in the record and the media health the staff are told, over real WebRTC through the
real server, on both databases: a witness is muted, their packets stop coming, their phone
drops and comes back. The staff console hears of each gap as it opens and closes; the
transcript answer carries them (open ones too), the recording row stores them with their
reason, `GET /recordings` lists them, the protocol prints a line at their time, and the
signed bundle carries them (a copy with a gap changed fails verification)."""

from __future__ import annotations

import asyncio
import io
import json
import time
import zipfile

import pytest
from sqlalchemy import select

from hearing.models import Recording
from stenogram.verify import verify_bundle
from support.testpeer import SignalTrack, tone

from hearing_testlib import app_with_users, invite, login, schedule, sign_first_version
from test_hearing_media import WsPeer

FRAME_S = 0.02


class PausableTrack(SignalTrack):
    """A microphone whose packets can be cut (the network eats them) and come back; its RTP
    clock keeps running meanwhile, as a phone's does."""

    def __init__(self, samples):
        super().__init__(samples)
        self.flowing = asyncio.Event()
        self.flowing.set()

    async def recv(self):
        if not self.flowing.is_set():
            await self.flowing.wait()
            self._n = int((time.time() - self._start) / FRAME_S)
        return await super().recv()


class Console:
    """A staff member's live socket, keeping every message."""

    def __init__(self, ws):
        self.ws = ws
        self.messages: list[dict] = []
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        async for msg in self.ws:
            self.messages.append(msg.json())

    def gaps(self) -> list[dict]:
        return [m for m in self.messages if m["type"] == "gap"]

    async def wait_for(self, test, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((m for m in reversed(self.messages) if test(m)), None)
            if found is not None:
                return found
            await asyncio.sleep(0.1)
        raise AssertionError(f"no such message; got types {[m['type'] for m in self.messages]}")

    async def close(self):
        self.reader.cancel()
        await self.ws.close()


async def phone_join(aiohttp_client, app, hid, inv, track, admit=None):
    client = await aiohttp_client(app)
    bearer = {"Authorization": f"Bearer {inv['token']}"}
    await client.post("/api/join", headers=bearer)
    if admit is not None:
        await admit()
    ws = await client.ws_connect(f"/api/hearings/{hid}/ws")
    await ws.send_json({"type": "auth", "token": inv["token"]})
    phone = WsPeer(ws, "W", audio=track)
    await phone.peer.join()
    return phone


async def test_gaps_are_told_stored_listed_printed_and_signed(aiohttp_client, db_url, tmp_path):
    app, db, ids = app_with_users(db_url, tmp_path, transcribe=False, rtc_bind="127.0.0.1",
                                  reconnect_window_s=30)
    judge = await login(aiohttp_client, app, "judge")
    secretary = await login(aiohttp_client, app, "secretary")
    hid = (await schedule(judge, ids["secretary"], language="ru"))["id"]
    inv = await invite(judge, hid, "witness", "Сидоров С.С.")
    pid = inv["participant"]["id"]
    src = f"p{pid}"
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    console = Console(await judge.client.ws_connect(f"/api/hearings/{hid}/ws"))
    track = PausableTrack(tone(440, 1.0))
    phone = await phone_join(aiohttp_client, app, hid, inv, track, lambda: judge.post(
        f"/api/hearings/{hid}/participants/{pid}/admit"))
    await console.wait_for(lambda m: m["type"] == "health" and any(
        s["source_id"] == src and s["state"] == "ok" for s in m["sources"]))

    # the judge mutes the witness for two seconds
    await judge.post(f"/api/hearings/{hid}/participants/{pid}/mute", json={"muted": True})
    await console.wait_for(lambda m: m["type"] == "gap" and m["reason"] == "muted"
                           and m["end_ms"] is None)
    await asyncio.sleep(2.0)
    await judge.post(f"/api/hearings/{hid}/participants/{pid}/mute", json={"muted": False})
    await console.wait_for(lambda m: m["type"] == "gap" and m["reason"] == "muted"
                           and m["end_ms"] is not None)
    await asyncio.sleep(1.5)

    # the witness's packets stop: lost audio, told while it lasts, open in the transcript
    track.flowing.clear()
    await console.wait_for(lambda m: m["type"] == "gap" and m["reason"] == "lost"
                           and m["end_ms"] is None)
    told = await console.wait_for(lambda m: m["type"] == "health" and any(
        s["source_id"] == src and s["state"] == "lost" and s["audio_lost_ms"] >= 1000
        for s in m["sources"]))
    assert next(s for s in told["sources"] if s["source_id"] == src)["label"] == "Сидоров С.С."
    snap = await (await judge.get(f"/api/hearings/{hid}/health")).json()
    seen = next(s for s in snap["sources"] if s["source_id"] == src)
    assert snap["here"] and seen["state"] == "lost" and "audio_lost" in seen["reasons"]
    tr = await (await secretary.get(f"/api/hearings/{hid}/transcript")).json()
    assert any(g["source_id"] == src and g["reason"] == "lost" and g["end_ms"] is None
               for g in tr["gaps"]), tr["gaps"]
    await asyncio.sleep(1.5)
    track.flowing.set()
    lost = await console.wait_for(lambda m: m["type"] == "gap" and m["reason"] == "lost"
                                  and m["end_ms"] is not None)
    assert lost["end_ms"] - lost["start_ms"] >= 2500

    # the phone drops (socket and peer connection) and comes back in its window
    await asyncio.sleep(1.5)
    await phone.close()
    await console.wait_for(lambda m: m["type"] == "gap" and m["reason"] == "disconnected")
    await asyncio.sleep(1.5)
    phone = await phone_join(aiohttp_client, app, hid, inv, PausableTrack(tone(440, 1.0)))
    await console.wait_for(lambda m: m["type"] == "gap" and m["reason"] == "disconnected"
                           and m["end_ms"] is not None)
    await asyncio.sleep(2.0)
    r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
    assert r.status == 200, await r.text()
    await phone.close()
    await console.close()

    # stored with the recording, each with its reason
    recs = await db.run(lambda s: s.execute(select(Recording).where(
        Recording.hearing_id == hid, Recording.source_id == src)).scalars().all())
    assert len(recs) == 1
    stored = recs[0].gaps
    assert [g["reason"] for g in stored if g["end_ms"] - g["start_ms"] >= 1000] == [
        "muted", "lost", "disconnected"], stored
    # listed with the recording
    listed = (await (await secretary.get(f"/api/hearings/{hid}/recordings")).json())["recordings"]
    entry = next(x for x in listed if x["source_id"] == src)
    assert entry["gaps"] == [[g["start_ms"], g["end_ms"]] for g in stored]
    # in the transcript answer, closed now
    tr = await (await secretary.get(f"/api/hearings/{hid}/transcript")).json()
    mine = [g for g in tr["gaps"] if g["source_id"] == src]
    assert mine == [{"source_id": src, **g} for g in stored]
    assert all(g["end_ms"] is not None for g in tr["gaps"])

    # printed in the protocol at their time, in the record's language
    await sign_first_version(secretary, judge, hid, "a long passphrase here")
    text = (await (await secretary.get(f"/api/hearings/{hid}/export/txt")).read()).decode()
    lost_line = next(line for line in text.splitlines()
                     if "[аудио от Сидоров С.С. потеряно" in line)
    big = [g for g in stored if g["reason"] == "lost" and g["end_ms"] - g["start_ms"] >= 1000][0]
    seconds = round((big["end_ms"] - big["start_ms"]) / 1000)
    assert f"потеряно {seconds} с]" in text
    assert lost_line.startswith("[00:00:")
    assert "[микрофон: Сидоров С.С. — выключен" in text
    for fmt in ("pdf", "docx"):
        assert (await secretary.get(f"/api/hearings/{hid}/export/{fmt}")).status == 200

    # carried in the bundle, under the version's hash: a changed gap fails verification
    r = await secretary.get(f"/api/hearings/{hid}/bundle")
    assert r.status == 200
    raw = await r.read()
    good = tmp_path / "bundle.zip"
    good.write_bytes(raw)
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        version = json.loads(zf.read("versions/v0001.json"))
    rec = next(x for x in version["document"]["recordings"]
               if x["kind"] == "recording" and x["source_id"] == src)
    assert rec["gaps"] == stored
    assert all(c.ok for c in verify_bundle(good)), [c for c in verify_bundle(good) if not c.ok]
    rec["gaps"][0]["end_ms"] = rec["gaps"][0]["start_ms"] + 1  # a hole made smaller
    bad = tmp_path / "tampered.zip"
    with zipfile.ZipFile(io.BytesIO(raw)) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "versions/v0001.json":
                data = json.dumps(version).encode()
            zout.writestr(item, data)
    assert not all(c.ok for c in verify_bundle(bad))


@pytest.mark.parametrize("reason", ["muted"])
def test_gap_lines_follow_the_record_language(reason):
    from stenogram.export.protocol import gap_entries
    doc = {"recordings": [{"source_id": "seat.witness", "kind": "recording",
                           "gaps": [{"start_ms": 61_000, "end_ms": 73_400, "reason": reason},
                                    {"start_ms": 80_000, "end_ms": 80_300, "reason": "lost"}]}]}
    people = {"seat:witness": {"name": "Ахметов Б."}}
    kk = gap_entries(doc, people, "kk")
    assert [(e.start_ms, e.text) for e in kk] == [
        (61_000, "[Ахметов Б.: микрофон 12 с өшірулі болды]")]
    assert gap_entries(doc, people, "ru")[0].text == "[микрофон: Ахметов Б. — выключен 12 с]"


def test_recording_gaps_name_spans_and_keep_what_the_file_cannot_show():
    from hearing.gaps import recording_gaps
    seen = [{"start_ms": 10_000, "end_ms": 12_000, "reason": "muted"},
            {"start_ms": 30_000, "end_ms": 31_500, "reason": "lost"},  # the file shows no hole
            {"start_ms": 50_000, "end_ms": None, "reason": "disconnected"}]  # to the end
    spans = [[10_020, 12_180], [20_000, 20_400]]
    assert recording_gaps(spans, seen, 49_990) == [
        {"start_ms": 10_020, "end_ms": 12_180, "reason": "muted"},
        {"start_ms": 20_000, "end_ms": 20_400, "reason": "lost"},
        {"start_ms": 30_000, "end_ms": 31_500, "reason": "lost"}]
    assert recording_gaps(spans, seen, 58_000)[-1] == {
        "start_ms": 50_000, "end_ms": 58_000, "reason": "disconnected"}


def test_courtroom_seat_faults_and_a_stalled_server_are_told():
    from types import SimpleNamespace

    from hearing.live.health import HealthMonitor
    now = {"ms": 5_000}
    clock = SimpleNamespace(now_ms=lambda: now["ms"])  # the hearing clock, stepped by hand
    live = SimpleNamespace(clock=clock, streams={}, room=None, speakers={
        "seat:witness": {"key": "seat:witness", "label": "Свидетель", "role": "seat"}})
    sent, written = [], []
    mon = HealthMonitor(live, sent.append, written.append)
    mon.on_alert({"type": "alert", "kind": "device_error", "sources": ["seat:witness"],
                  "t_ms": 4_000})
    assert sent[-1] == {"type": "gap", "source_id": "seat:witness", "start_ms": 4_000,
                        "end_ms": None, "reason": "lost"}
    mon.look()
    health = sent[-1]
    seat = health["sources"][0]
    assert (seat["state"], seat["label"], seat["audio_lost_ms"]) == ("lost", "Свидетель", 1_000)
    now["ms"] = 9_000
    mon.on_alert({"type": "alert", "kind": "device_restored", "sources": ["seat:witness"],
                  "t_ms": 9_000})
    mon.on_alert({"type": "alert", "kind": "silent", "sources": ["seat:witness"]})
    mon._published_at = 0  # the one-a-second bound is not what this test is about
    mon.look(late_ms=2_500)
    seat, server = sent[-1]["sources"][0], sent[-1]["server"]
    assert seat["state"] == "degraded" and seat["reasons"] == ["seat_silent"]
    assert seat["audio_lost_ms"] == 5_000 and seat["gap"] is None
    assert server == {"state": "degraded", "stalled_ms": 2_500}
    assert [(g.start_ms, g.end_ms) for g in written] == [(4_000, None), (4_000, 9_000)]


def test_live_text_behind_the_audio_is_told():
    import threading
    from types import SimpleNamespace

    from hearing.live.health import HealthMonitor
    now = {"ms": 20_000}
    core = SimpleNamespace(processed_to_ms=19_000)
    stream = SimpleNamespace(core=core, lock=threading.Lock(), backlog_ms=0)
    source = SimpleNamespace(source_id="p7", audio_packets=0, muted=False, live=True)
    seat = SimpleNamespace(source=source, session=object())
    live = SimpleNamespace(clock=SimpleNamespace(now_ms=lambda: now["ms"]), speakers={},
                           streams={"p7": stream},
                           room=SimpleNamespace(participants={"p7": seat}))
    sent = []
    mon = HealthMonitor(live, sent.append, lambda gap: None)
    for _ in range(4):  # packets keep coming, the recogniser keeps up
        now["ms"] += 500
        core.processed_to_ms = now["ms"] - 800
        source.audio_packets += 25
        mon._published_at = 0
        mon.look()
    assert sent[-1]["sources"][0]["state"] == "ok" and sent[-1]["sources"][0]["asr_lag_ms"] == 800
    for _ in range(4):  # the recogniser stops: the audio waits
        now["ms"] += 2_000
        source.audio_packets += 100
        mon._published_at = 0
        mon.look()
    told = sent[-1]["sources"][0]
    assert told["state"] == "degraded" and told["reasons"] == ["asr_lag"]
    assert told["asr_lag_ms"] == 8_800
