"""Redaction through the API: the secretary redacts a signed version (words and a time range);
the parties, the participants and the administrator are given the redacted copy (text and
recording) and never the original, the judge still the original; `courtroom verify` checks
the copy's bundle against the original's and names a change outside the declared spans; a
witness or a lawyer cannot redact."""

from __future__ import annotations

import json
import zipfile

import pytest
from sqlalchemy import select

from hearing.api.context import STATE
from hearing.cli import main
from hearing.models import AuditEvent, Recording, Redaction
from media.rtc.recorder import Recorder, finalise_recordings
from stenogram import segment_from_final
from stenogram.canonical import canonical_sha256
from stenogram.redaction import MARK
from support.media_samples import opus_packets

from hearing_testlib import KEY_PASS, SPEECH, app_with_users, record_readers, sign_first_version

CLIP = SPEECH / "ru-dev" / "ast_ru_conf-usermenu.wav"
pytestmark = pytest.mark.skipif(not CLIP.exists(), reason="speech sample missing")


@pytest.fixture
def app_db(db_url, tmp_path):
    return app_with_users(db_url, tmp_path, transcribe=False)


def verify(capsys, *args) -> tuple[int, str]:
    """`courtroom verify` (in this process: the same code, without a second interpreter)."""
    capsys.readouterr()
    rc = main(["verify", *map(str, args)])
    return rc, capsys.readouterr().out


async def record_source(state, tmp_path, hid: int, source: str) -> None:
    """Speech recorded for ``source`` from hearing-clock 0 by the project's recorder,
    finalised into the server's blob store and listed as the hearing's recording."""
    rec = Recorder(tmp_path / "rec", lambda e: None)
    for i, payload in enumerate(opus_packets(CLIP)):
        rec.packet(source, payload, i * 960)
    await rec.close()
    [final] = finalise_recordings(tmp_path / "rec", state.live.blobs)

    def add(s):
        s.add(Recording(hearing_id=hid, source_id=source, sha256=final.blob.sha256,
                        size=final.blob.size, start_ms=final.start_ms, end_ms=final.end_ms,
                        content_type="audio/ogg", gaps=[]))
    await state.db.run(add)


def final(start, words, sid):
    return segment_from_final({
        "source_id": "p1", "start_ms": start, "end_ms": words[-1][2],
        "text": " ".join(w[0] for w in words), "language": "ru", "model": "whisper-base/int8",
        "words": [{"text": t, "start_ms": a, "end_ms": b, "probability": 0.9}
                  for t, a, b in words]}, speaker="p1", segment_id=sid)


async def test_redact_serve_and_verify(aiohttp_client, app_db, tmp_path, capsys):
    app, db, ids = app_db
    state = app[STATE]
    admin, judge, sec, h, lawyer, witness, bearer, pclient = await record_readers(
        aiohttp_client, app, ids)
    hid = h["id"]

    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    await state.transcripts.add_final(hid, final(1000, [
        ("Меня", 1000, 1200), ("зовут", 1200, 1500), ("Жумабеков", 1500, 1900),
        ("Пётр", 1900, 2200)], "s1"))
    await state.transcripts.add_final(hid, final(2600, [
        ("Проживаю", 2600, 3000), ("улица", 3000, 3300), ("Абая", 3300, 3600)], "s2"))
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
    await record_source(state, tmp_path, hid, "p1")
    await sign_first_version(sec, judge, hid, KEY_PASS)

    spans = [{"kind": "words", "segment_id": "s1", "start": 2, "end": 4,
              "reason": "персональные данные (ст. 7 Закона)"},
             {"kind": "time", "start_ms": 3000, "end_ms": 3600, "reason": "адрес свидетеля"}]
    body = {"spans": spans, "passphrase": KEY_PASS}
    found = await (await lawyer.get("/api/search", params={"q": "Жумабеков"})).json()
    assert [x["kind"] for x in found["results"]] == ["segment"]
    url = f"/api/hearings/{hid}/stenogram/versions/1/redactions"
    # nobody but the hearing's secretary and judge redacts
    r = await pclient.post(url, json=body, headers=bearer)
    assert r.status == 403, await r.text()
    for who in (lawyer, admin):
        assert (await who.post(url, json=body)).status == 403
    bad = {**body, "spans": [{"kind": "segment", "segment_id": "nope", "reason": "x"}]}
    assert (await sec.post(url, json=bad)).status == 400
    assert (await sec.post(url, json={**body, "passphrase": "not the passphrase"})).status == 422

    r = await sec.post(url, json=body)
    assert r.status == 201, await r.text()
    made = await r.json()
    assert made["version"] == 1 and len(made["recordings"]) == 1
    assert [s["role"] for s in made["signatures"]] == ["secretary"]
    r = await judge.post(f"/api/hearings/{hid}/redactions/{made['id']}/sign",
                         json={"passphrase": KEY_PASS})
    assert r.status == 200, await r.text()
    assert [s["role"] for s in (await r.json())["signatures"]] == ["secretary", "judge"]

    def stored(s):
        red = s.execute(select(Redaction)).scalar_one()
        row = s.execute(select(AuditEvent).where(AuditEvent.action == "stenogram.redact")
                        ).scalar_one()
        return red.doc, red.sha256, row.data
    doc, sha, audit_row = await db.run(stored)
    assert canonical_sha256(doc) == sha and audit_row["sha256"] == sha
    assert doc["redacts"]["sha256"] == made["version_sha256"]

    # the parties, the witness and the administrator read the copy; the judge the original
    for who, headers in ((lawyer, None), (admin, None), (pclient, bearer)):
        txt = await (await who.get(f"/api/hearings/{hid}/export/txt", headers=headers)).text()
        assert f"Меня зовут {MARK}" in txt and "Жумабеков" not in txt and "Абая" not in txt, txt
        assert "Обезличенная копия версии 1" in txt and made["version_sha256"] in txt
    txt = await (await judge.get(f"/api/hearings/{hid}/export/txt")).text()
    assert "Меня зовут Жумабеков Пётр" in txt and MARK not in txt
    assert "Обезличенная копия" not in txt
    srt = await (await lawyer.get(f"/api/hearings/{hid}/export/srt")).text()
    assert "Жумабеков" not in srt and MARK in srt
    found = await (await lawyer.get("/api/search", params={"q": "Жумабеков"})).json()
    assert found["results"] == []
    from hearing.services.search import reindex
    await reindex(state)  # a rebuilt index finds the copy's text, not the sealed original's
    found = await (await lawyer.get("/api/search", params={"q": "Жумабеков"})).json()
    assert found["results"] == []

    # recordings: the administrator is given the silenced copy, the judge the original
    listed = {}
    for who in (admin, judge):
        r = await who.get(f"/api/hearings/{hid}/recordings")
        [entry] = (await r.json())["recordings"]
        listed[who is admin] = entry["sha256"]
        audio = await (await who.get(entry["url"])).read()
        assert len(audio) > 1000
    assert listed[True] == made["recordings"][0]["sha256"]
    assert listed[False] == made["recordings"][0]["original_sha256"]
    # the original bundle and the editor's transcript are sealed from the administrator
    assert (await admin.get(f"/api/hearings/{hid}/bundle")).status == 403
    assert (await admin.get(f"/api/hearings/{hid}/transcript")).status == 403
    assert (await judge.get(f"/api/hearings/{hid}/transcript")).status == 200

    original = tmp_path / "original.zip"
    original.write_bytes(await (await judge.get(f"/api/hearings/{hid}/bundle?media=1")).read())
    redacted = tmp_path / "redacted.zip"
    r = await lawyer.get(f"/api/hearings/{hid}/redactions/{made['id']}/bundle?media=1")
    assert r.status == 200
    redacted.write_bytes(await r.read())
    with zipfile.ZipFile(redacted) as zf:
        assert not any("Жумабеков".encode() in zf.read(n)
                       for n in zf.namelist() if not n.startswith("documents/"))
    rc, out = verify(capsys, redacted, "--original", original)
    assert rc == 0, out
    assert "ok    redacted copy differs from the original only inside the declared spans" in out
    assert "only by silence inside the declared ranges: 2 range(s)" in out
    assert "ok    redacted copy: signatures verify: secretary Secretary Name, judge" in out

    # a byte of the copy changed outside the spans (re-hashed, as a forger would)
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(redacted) as zin, zipfile.ZipFile(forged, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "redacted.json":
                v = json.loads(data)
                v["document"]["segments"][0]["text"] = f"Меня зовут {MARK}!"
                v["sha256"] = canonical_sha256(v["document"])
                data = json.dumps(v, ensure_ascii=False).encode()
            zout.writestr(item, data)
    rc, out = verify(capsys, forged, "--original", original)
    assert rc == 1
    assert "FAIL  redacted copy differs from the original only inside the declared spans: " \
           "segment s1.text differs" in out
