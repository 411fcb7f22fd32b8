"""A hearing held in a courtroom: the administrator sets up the court, the courtroom and its
seat map; the judge's console gets each seat's level and alerts while the microphones (a
multi-channel recording replayed as the courtroom's interface) are captured; each seat is
recorded like a remote participant, and transcribed under the name of the person sitting
there."""

from __future__ import annotations

import asyncio
import functools
import wave
from datetime import datetime, timezone

import av
import numpy as np
import pytest
from sqlalchemy import select

from hardware.simulator import read_mono16k
from hearing.app import make_app
from hearing.config import Config
from hearing.db import Database, upgrade
from hearing.auth import hash_password
from hearing.models import AudioSource, AuditEvent, Recording, User
from hearing.api.context import STATE
from media.audio import SAMPLE_RATE, AudioChunk
from media.blobstore import BlobStore
from media.rtc.recorder import Recorder, finalise_recordings
from media.seat_recorder import SeatRecorder

from hearing_testlib import PASSWORD, SPEECH, login, schedule

JUDGE_CLIP = SPEECH / "ru-dev" / "ast_ru_agent-loggedoff.wav"  # "Регистрация оператора удалена."
WITNESS_CLIP = SPEECH / "ru-dev" / "ast_ru_auth-incorrect.wav"  # "Пароль неверен. Введите ..."
JUDGE_AT, WITNESS_AT = 0.3, 3.0  # seconds into the recording
needs_speech = pytest.mark.skipif(not (JUDGE_CLIP.exists() and WITNESS_CLIP.exists()),
                                  reason="shared speech clips not present")

SEAT_MAP = """
name = "Courtroom 3"
device = "hw:7?channels=3&rate=48000"   # the real interface; tests replay a file instead

[seats.judge]
channel = 1
role = "judge"
label = "Presiding judge"

[seats.witness]
channel = 2
role = "witness"

[seats.defence]
channel = 3
role = "defence"
"""


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)  # Argon2 is slow on purpose: hash once for all accounts


def make_users(db) -> dict[str, int]:
    """The staff of hearing_testlib.make_users, sharing one password hash."""
    def work(s):
        ids = {}
        for name, role in (("admin", "admin"), ("judge", "judge"), ("judge2", "judge"),
                           ("secretary", "secretary")):
            u = User(username=name, display_name=f"{name.title()} Name", role=role,
                     password_hash=password_hash(), created_at=datetime.now(timezone.utc))
            s.add(u)
            s.flush()
            ids[name] = u.id
        return ids
    return db.run_sync(work)


def courtroom_wav(path, trailing_s: float = 1.0, swapped: bool = False):
    """Three seats at 16 kHz: the judge speaks, then the witness (``swapped``: the judge's
    clip on the witness's mic and the witness's clip on the judge's); the defence mic only
    hears its own hiss. Returns the path and the total length in seconds."""
    judge, witness = read_mono16k(str(JUDGE_CLIP)), read_mono16k(str(WITNESS_CLIP))
    n = int((WITNESS_AT + len(witness) / SAMPLE_RATE + trailing_s) * SAMPLE_RATE)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, n)).astype(np.float32) * np.float32(10 ** (-60 / 20))
    j0, w0 = int(JUDGE_AT * SAMPLE_RATE), int(WITNESS_AT * SAMPLE_RATE)
    jc, wc = (1, 0) if swapped else (0, 1)
    x[jc, j0:j0 + len(judge)] += judge * np.float32(0.5 / max(1e-6, np.abs(judge).max()))
    x[wc, w0:w0 + len(witness)] += witness * np.float32(0.5 / max(1e-6, np.abs(witness).max()))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(3)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(x.T, -1, 32767 / 32768) * 32768).round().astype("<i2").tobytes())
    return path, n / SAMPLE_RATE


def decode(path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.concatenate([f.to_ndarray()[0] for f in c.decode(audio=0)])


def rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(max(1e-9, float(np.sqrt(np.mean(x ** 2))))) if len(x) else -180.0


async def test_seat_audio_is_recorded_on_the_hearing_clock_with_gaps(tmp_path):
    """Opus from 16 kHz seat audio through the room's recorder: positions follow the chunks'
    hearing-clock times, a device outage is a listed gap, not shortened audio."""
    events: list[dict] = []
    recorder = Recorder(tmp_path / "rec", events.append)
    seats = SeatRecorder(recorder)
    t = np.arange(SAMPLE_RATE * 2) / SAMPLE_RATE
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for i in range(0, len(tone), 1600):  # 2 s from 1.000 s, in 100 ms chunks
        seats.feed(AudioChunk("seat:judge", 1000 + i // 16, tone[i:i + 1600]))
    seats.gap("seat:judge")  # the device failed ...
    for i in range(0, SAMPLE_RATE, 1600):  # ... and came back at 4.5 s
        seats.feed(AudioChunk("seat:judge", 4500 + i // 16, tone[i:i + 1600]))
    await seats.close()
    await recorder.close()
    chunks = [e for e in events if e["type"] == "recording.chunk"]
    assert {e["source_id"] for e in chunks} == {"seat.judge"}
    assert chunks[0]["start_ms"] == 1000 and any(e["start_ms"] == 4500 for e in chunks)
    [final] = finalise_recordings(tmp_path / "rec", BlobStore(tmp_path / "blobs"))
    assert (final.start_ms, final.gaps) == (1000, [(3000, 4500)])
    assert final.end_ms == pytest.approx(5500, abs=30)
    y = decode(BlobStore(tmp_path / "blobs").path_for(final.blob.sha256))
    at = lambda s: int(s * 48_000)  # noqa: E731 - file offset 0 is hearing-clock 1.000 s
    assert rms_db(y[at(0.1):at(1.9)]) > -15  # the tone (-13.5 dBFS RMS)
    assert rms_db(y[at(2.1):at(3.4)]) < -60  # the outage, filled with silence
    assert rms_db(y[at(3.6):at(4.4)]) > -15  # the tone again, at its true time
    assert seats.stats["overflows"] == 0 and seats.stats["gaps"] == 1


@pytest.fixture
def courtroom_app(db_url, tmp_path):
    wav, seconds = courtroom_wav(tmp_path / "courtroom.wav")
    cfg = Config(data_dir=tmp_path, database_url=db_url, transcribe=False,
                 courtroom_device_override=f"file:{wav}?speed=4")
    db = Database(db_url)
    ids = make_users(db)
    return make_app(cfg, db), db, ids, seconds


async def read_until(ws, done, timeout=30.0) -> list[dict]:
    got: list[dict] = []

    async def loop():
        async for msg in ws:
            got.append(msg.json())
            if done(got[-1]):
                return
    await asyncio.wait_for(loop(), timeout)
    return got


@needs_speech
async def test_courtroom_hearing_meters_alerts_and_recordings(aiohttp_client, courtroom_app):
    app, db, ids, seconds = courtroom_app
    admin = await login(aiohttp_client, app, "admin")
    judge = await login(aiohttp_client, app, "judge")
    secretary = await login(aiohttp_client, app, "secretary")
    other_judge = await login(aiohttp_client, app, "judge2")

    # the court administrator sets up the court and the courtroom
    r = await admin.post("/api/courts", json={"name": "Medeu District Court", "timezone": "Mars/Olympus"})
    assert r.status == 400 and "time zone" in (await r.json())["message"]
    r = await admin.post("/api/courts", json={"name": "Medeu District Court",
                                              "timezone": "Asia/Almaty"})
    assert r.status == 201, await r.text()
    court = await r.json()
    for bad, why in (('name = "x"\n[seats.judge\nchannel = 1', "not valid TOML"),
                     (SEAT_MAP.replace("channel = 3", "channel = 2"), "already seat"),
                     ('[seats.judge]\nchannel = 0\ndevice = "hw:1"', "'channel'"),
                     ('[seats.judge]\nchannel = 1\ndevice = "gopher:x"', "unknown device")):
        r = await admin.post(f"/api/courts/{court['id']}/courtrooms",
                             json={"name": "Room", "seat_map": bad})
        assert r.status == 400, (bad, await r.text())
        body = await r.json()
        assert body["field"] == "seat_map" and why in body["message"], body
    r = await admin.post(f"/api/courts/{court['id']}/courtrooms",
                         json={"name": "Courtroom 3", "seat_map": SEAT_MAP})
    assert r.status == 201, await r.text()
    room = await r.json()
    assert [(s["seat_id"], s["channel"], s["label"]) for s in room["seats"]] == [
        ("judge", 1, "Presiding judge"), ("witness", 2, "Witness stand"),
        ("defence", 3, "Defence")]
    # a courtroom whose interface this server reaches under another name
    r = await admin.post(f"/api/courts/{court['id']}/courtrooms", json={
        "name": "Courtroom 4", "seat_map": SEAT_MAP, "device": "bogus://x"})
    assert r.status == 400 and "bogus" in (await r.json())["message"]
    r = await admin.post(f"/api/courts/{court['id']}/courtrooms", json={
        "name": "Courtroom 4", "seat_map": SEAT_MAP, "device": "pulse:courtroom4"})
    room4 = await r.json()
    assert {s["device"] for s in room4["seats"]} == {"pulse:courtroom4"}
    r = await admin.get(f"/api/courts/{court['id']}/courtrooms")
    assert [c["id"] for c in (await r.json())["courtrooms"]] == [room["id"], room4["id"]]
    assert (await r.json())["courtrooms"][0]["seat_map"] == SEAT_MAP
    assert [c["name"] for c in (await (await admin.get("/api/courts")).json())["courts"]] == [
        "Medeu District Court"]
    # only the administrator runs courts and courtrooms; judges and secretaries may look
    for who in (judge, secretary):
        assert (await who.post("/api/courts", json={"name": "x"})).status == 403
        assert (await who.get("/api/courts")).status == 200
        assert (await who.post(f"/api/courts/{court['id']}/courtrooms",
                               json={"name": "x", "seat_map": SEAT_MAP})).status == 403
        assert (await who.get(f"/api/courts/{court['id']}/courtrooms")).status == 200

    # a hearing in that courtroom has one source per seat; the secretary names the witness
    r = await judge.post("/api/hearings", json={
        "case_number": "1", "title": "t", "kind": "civil", "language": "ru",
        "courtroom_id": room["id"] + 100})
    assert r.status == 400 and (await r.json())["field"] == "courtroom_id"
    h = await schedule(judge, ids["secretary"], language="ru", courtroom_id=room["id"])
    hid = h["id"]
    assert h["court_id"] == court["id"]
    r = await secretary.get(f"/api/hearings/{hid}/seats")
    assert [s["source_id"] for s in (await r.json())["seats"]] == [
        "seat:judge", "seat:witness", "seat:defence"]
    r = await secretary.client.put(f"/api/hearings/{hid}/seats/witness",
                                   json={"name": "Свидетель Ким"},
                                   headers={"X-CSRF-Token": secretary.csrf})
    assert r.status == 200, await r.text()
    assert (await r.json())["label"] == "Свидетель Ким"
    r = await other_judge.client.put(f"/api/hearings/{hid}/seats/witness", json={"name": "x"},
                                     headers={"X-CSRF-Token": other_judge.csrf})
    assert r.status == 403
    r = await judge.client.put(f"/api/hearings/{hid}/seats/nobody", json={"name": "x"},
                               headers={"X-CSRF-Token": judge.csrf})
    assert r.status == 404
    sources = db.run_sync(lambda s: {a.key: (a.kind, a.seat, a.label) for a in s.execute(
        select(AudioSource).where(AudioSource.hearing_id == hid)).scalars()})
    assert sources["seat:judge"] == ("seat", "judge", "Presiding judge")
    assert sources["seat:witness"] == ("seat", "witness", "Свидетель Ким")

    # open: the judge's console sees every seat's level, until the replay ends
    ws = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
    r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    assert r.status == 200
    got = await read_until(ws, lambda m: m["type"] == "alert" and m["kind"] == "ended")
    meters = [m for m in got if m["type"] == "meter"]
    assert len(meters) >= 5, [m["type"] for m in got]
    assert all([lv["source_id"] for lv in m["levels"]] == [
        "seat:judge", "seat:witness", "seat:defence"] for m in meters)
    assert {lv["label"] for lv in meters[-1]["levels"]} == {
        "Presiding judge", "Свидетель Ким", "Defence"}
    loudest = {sid: max(lv["rms_db"] for m in meters for lv in m["levels"]
                        if lv["source_id"] == sid) for sid in ("seat:judge", "seat:witness",
                                                               "seat:defence")}
    assert loudest["seat:judge"] > -30 and loudest["seat:witness"] > -30
    assert loudest["seat:defence"] < -50  # its mic only hears hiss
    ended = [m for m in got if m["type"] == "alert"]  # shown on every seat of the device
    assert [(m["source_id"], m["label"], m["device_wide"]) for m in ended] == [
        ("seat:judge", "Presiding judge", True)]  # the rest follow

    for to in ("recess", "open", "closed"):
        r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": to})
        assert r.status == 200, await r.text()
    await ws.close()

    # each seat was recorded like a remote participant: chunks audited, one blob per seat
    state = app[STATE]
    recs = db.run_sync(lambda s: {r.source_id: (r.sha256, r.start_ms, r.end_ms) for r in
                                  s.execute(select(Recording).where(
                                      Recording.hearing_id == hid)).scalars()})
    assert set(recs) == {"seat.judge", "seat.witness", "seat.defence"}
    for sha, start, end in recs.values():
        assert state.live.blobs.exists(sha)
        assert end - start == pytest.approx(seconds * 1000, abs=150)
    audit = db.run_sync(lambda s: [(e.action, e.data) for e in s.execute(
        select(AuditEvent).where(AuditEvent.hearing_id == hid).order_by(AuditEvent.seq)).scalars()])
    chunked = {d["source_id"] for a, d in audit if a == "recording.chunk"}
    assert chunked == {"seat.judge", "seat.witness", "seat.defence"}
    assert ("seat.assign", "seat:witness") in {(a, d.get("source_id")) for a, d in audit}
    assert any(a == "courtroom.alert" and d["kind"] == "ended" for a, d in audit)
    # the witness's words are in the witness's recording, at their hearing-clock time
    start = recs["seat.witness"][1]
    w = decode(state.live.blobs.path_for(recs["seat.witness"][0]))
    at = lambda s: int(s * 48_000)  # noqa: E731
    assert rms_db(w[at(WITNESS_AT + 0.3):at(WITNESS_AT + 2.5)]) > -35
    assert rms_db(w[at(0.3):at(2.5)]) < -50  # while the judge spoke, the witness mic was quiet
    assert start >= 0
    r = await judge.get(f"/api/hearings/{hid}/audit")
    assert (await r.json())["verified"] is True


async def setup_courtroom_hearing(app, aiohttp_client, ids) -> tuple[object, int]:
    admin = await login(aiohttp_client, app, "admin")
    judge = await login(aiohttp_client, app, "judge")
    court = await (await admin.post("/api/courts", json={"name": "Court"})).json()
    room = await (await admin.post(f"/api/courts/{court['id']}/courtrooms",
                                   json={"name": "Room", "seat_map": SEAT_MAP})).json()
    h = await schedule(judge, ids["secretary"], language="ru", courtroom_id=room["id"])
    return judge, h["id"]


async def test_a_dead_courtroom_device_alerts_the_judge_and_the_hearing_goes_on(
        aiohttp_client, db_url, tmp_path):
    db = Database(db_url)
    ids = make_users(db)
    app = make_app(Config(data_dir=tmp_path, database_url=db_url, transcribe=False,
                          courtroom_device_override=f"file:{tmp_path / 'unplugged.wav'}"), db)
    judge, hid = await setup_courtroom_hearing(app, aiohttp_client, ids)
    ws = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
    r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    assert r.status == 200
    got = await read_until(ws, lambda m: m["type"] == "alert" and m["source_id"] == "seat:defence")
    alerts = [m for m in got if m["type"] == "alert"]
    assert [m["source_id"] for m in alerts] == ["seat:judge", "seat:witness", "seat:defence"]
    assert all(m["kind"] == "device_error" and "unplugged.wav" in m["message"] for m in alerts)
    assert alerts[1]["label"] == "Witness stand"
    r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
    assert r.status == 200  # closing does not wait for a device that never answered
    await ws.close()
    audit = db.run_sync(lambda s: [(e.action, e.data) for e in s.execute(
        select(AuditEvent).where(AuditEvent.hearing_id == hid)).scalars()])
    [fault] = [d for a, d in audit if a == "courtroom.alert"]  # once, not once per seat
    assert fault["kind"] == "device_error"
    assert fault["sources"] == ["seat:judge", "seat:witness", "seat:defence"]
    assert not db.run_sync(lambda s: s.execute(select(Recording).where(
        Recording.hearing_id == hid)).first())  # nothing was heard, nothing pretends it was


async def test_courtroom_mics_come_back_after_a_server_restart(aiohttp_client, db_url, tmp_path):
    """A server restarted during an open hearing captures the courtroom again at once; the
    seat's recording keeps what came before, with the downtime as a gap."""
    seconds = 1.0
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tones = np.stack([0.2 * np.sin(2 * np.pi * f * t) for f in (300, 500, 700)])
    wav = tmp_path / "tones.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(3)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((tones.T * 32767).astype("<i2").tobytes())
    cfg = Config(data_dir=tmp_path, database_url=db_url, transcribe=False,
                 courtroom_device_override=f"file:{wav}")  # real-time pace, like a device
    db = Database(db_url)
    ids = make_users(db)
    first = make_app(cfg, db)
    judge, hid = await setup_courtroom_hearing(first, aiohttp_client, ids)
    ws = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    await read_until(ws, lambda m: m["type"] == "alert" and m["kind"] == "ended")
    await ws.close()
    await judge.client.close()  # the server stops (not the close of the hearing)
    await asyncio.sleep(0.5)
    second = make_app(cfg, Database(db_url))
    judge = await login(aiohttp_client, second, "judge")  # the server has started
    resumed = second[STATE].courtrooms.running[hid].capture  # nobody had to reopen the hearing
    await asyncio.wait_for(resumed.captures[0].wait_ended(), 30)
    r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
    assert r.status == 200
    recs = db.run_sync(lambda s: {r.source_id: (r.start_ms, r.end_ms) for r in s.execute(
        select(Recording).where(Recording.hearing_id == hid)).scalars()})
    assert set(recs) == {"seat.judge", "seat.witness", "seat.defence"}
    start, end = recs["seat.judge"]
    assert end - start > 2 * seconds * 1000  # both replays, and the restart between them
    final = db.run_sync(lambda s: [e.data for e in s.execute(select(AuditEvent).where(
        AuditEvent.hearing_id == hid, AuditEvent.action == "recording.final")).scalars()])
    assert all(len(d["gaps"]) == 1 for d in final if d["source_id"].startswith("seat."))


@pytest.mark.slow
@needs_speech
async def test_seat_speech_is_transcribed_under_the_persons_name(aiohttp_client, tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    db = Database(url)
    upgrade(db.engine)
    ids = make_users(db)
    wav, _ = courtroom_wav(tmp_path / "courtroom.wav", trailing_s=3.0)
    app = make_app(Config(data_dir=tmp_path, database_url=url, transcribe=True,
                          courtroom_device_override=f"file:{wav}"), db)
    judge, hid = await setup_courtroom_hearing(app, aiohttp_client, ids)
    r = await judge.client.put(f"/api/hearings/{hid}/seats/witness",
                               json={"name": "Свидетель Ким"},
                               headers={"X-CSRF-Token": judge.csrf})
    assert r.status == 200
    # load Whisper first: audio that arrives while the model loads is recorded, not transcribed
    await app[STATE].live.ensure_scheduler()
    ws = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    finals: list[dict] = []

    def done(m):
        if m["type"] == "final":
            finals.append(m)
        text = " ".join(f["text"].lower() for f in finals if f["source_id"] == "seat:witness")
        return "парол" in text and "решет" in text.replace("ё", "е")
    try:
        await read_until(ws, done, timeout=90)
    finally:
        await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
    for f in finals:  # shown with -s
        print(f["source_id"], f["speaker"]["label"], f["start_ms"], f["end_ms"], f["text"])
    witness = [f for f in finals if f["source_id"] == "seat:witness"]
    assert witness and all(f["speaker"]["label"] == "Свидетель Ким" for f in witness)
    assert all(f["speaker"]["seat"] == "witness" for f in witness)
    assert witness[0]["start_ms"] >= (WITNESS_AT - 0.5) * 1000
    # the judge's words are the judge's, and no seat repeats another's words
    judge_text = " ".join(f["text"].lower() for f in finals if f["source_id"] == "seat:judge")
    assert "парол" not in judge_text
    assert not any(f["source_id"] == "seat:defence" for f in finals)
    r = await judge.get(f"/api/hearings/{hid}/transcript")
    segs = (await r.json())["segments"]
    assert any(s["speaker"]["label"] == "Свидетель Ким" and "парол" in s["text"].lower()
               for s in segs)


@pytest.mark.slow
@needs_speech
async def test_two_courtrooms_with_the_same_seats_are_transcribed_at_once(aiohttp_client,
                                                                          tmp_path):
    """Every courtroom has its seat:judge and seat:witness: two hearings held at the same
    time each get their own transcript, each seat's words on that hearing's seat."""
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    db = Database(url)
    upgrade(db.engine)
    ids = make_users(db)
    first, _ = courtroom_wav(tmp_path / "first.wav", trailing_s=3.0)
    second, _ = courtroom_wav(tmp_path / "second.wav", trailing_s=3.0, swapped=True)
    app = make_app(Config(data_dir=tmp_path, database_url=url, transcribe=True), db)
    admin = await login(aiohttp_client, app, "admin")
    judge = await login(aiohttp_client, app, "judge")
    court = await (await admin.post("/api/courts", json={"name": "Court"})).json()
    hids = []
    for name, wav in (("Courtroom 1", first), ("Courtroom 2", second)):
        r = await admin.post(f"/api/courts/{court['id']}/courtrooms", json={
            "name": name, "seat_map": SEAT_MAP, "device": f"file:{wav}"})  # each its own
        h = await schedule(judge, ids["secretary"], language="ru",
                           courtroom_id=(await r.json())["id"])
        hids.append(h["id"])
    state = app[STATE]
    await state.live.ensure_scheduler()  # audio heard while the model loads is not transcribed
    for hid in hids:
        r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
        assert r.status == 200
    try:
        await asyncio.wait_for(asyncio.gather(*(
            state.courtrooms.running[hid].capture.captures[0].wait_ended() for hid in hids)), 60)
    finally:
        for hid in hids:  # closing flushes each seat's last words into the transcript
            await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
    said = []
    for hid in hids:
        segs = (await (await judge.get(f"/api/hearings/{hid}/transcript")).json())["segments"]
        said.append({seat: " ".join(s["text"].lower() for s in segs
                                    if s["source_id"] == f"seat:{seat}")
                     for seat in ("judge", "witness", "defence")})
    print(said)  # shown with -s
    assert "парол" in said[0]["witness"] and "парол" not in said[0]["judge"]
    assert "парол" in said[1]["judge"] and "парол" not in said[1]["witness"]
    assert said[0]["judge"] and said[1]["witness"]  # the other clip, on the other seat
    assert not said[0]["defence"] and not said[1]["defence"]
