"""A court that ran before cases existed: upgrading its database carries every hearing into the
case of its (court, number), and each piece of evidence into its hearing's case, on both
databases; the upgraded court then serves its cases."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from alembic import command
from sqlalchemy import select, text

from hearing.app import make_app
from hearing.auth import hash_password
from hearing.db import Database, alembic_config, make_engine, upgrade
from hearing.config import Config
from hearing.models import Case, EvidenceItem, Hearing

from hearing_testlib import PASSWORD, login

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


def _court_before_cases(url: str) -> None:
    """The database as revision 0002 left it: three hearings, two of them of one case number,
    and a piece of evidence in two of them."""
    engine = make_engine(url)
    command.downgrade(alembic_config(engine), "0002")
    pw = hash_password(PASSWORD)
    with engine.begin() as c:
        for uid, name, role in ((1, "admin", "admin"), (2, "judge", "judge"),
                                (3, "judge2", "judge")):
            c.execute(text("INSERT INTO users (id, username, display_name, role, password_hash, "
                           "active, created_at) VALUES (:id, :u, :u, :r, :pw, :a, :at)"),
                      {"id": uid, "u": name, "r": role, "pw": pw, "a": True, "at": NOW})
        for hid, number, judge in ((1, "2-10/2025", 2), (2, "2-10/2025", 3), (3, "1-5/2025", 2)):
            c.execute(text(
                "INSERT INTO hearings (id, court_id, courtroom_id, case_number, title, kind, "
                "language, judge_id, vocabulary, state, created_at, created_by) VALUES "
                "(:id, NULL, NULL, :n, :t, 'civil', 'ru', :j, :v, 'closed', :at, 1)"),
                {"id": hid, "n": number, "t": f"Дело {number}", "j": judge, "v": "[]",
                 "at": NOW})
        for eid, hid, status in ((1, 1, "accepted"), (2, 2, "pending"), (3, 3, "rejected")):
            c.execute(text(
                "INSERT INTO evidence_items (id, hearing_id, upload_id, sha256, size, filename, "
                "content_type, kind, media, submitted_by, received_at, status, reason, "
                "transcode_state) VALUES (:id, :h, :u, :sha, 10, 'f.ogg', 'audio/ogg', "
                "'audio', :m, 'user:2:judge', :at, :st, '', 'pending')"),
                {"id": eid, "h": hid, "u": f"up-{eid}", "sha": f"{eid:064x}",
                 "m": json.dumps({}), "at": NOW, "st": status})
        if c.dialect.name == "postgresql":  # rows inserted with ids: move the sequences on
            for table in ("users", "hearings", "evidence_items"):
                c.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT max(id) FROM {table}))"))
    upgrade(engine)
    engine.dispose()


async def test_hearings_of_one_number_become_one_case_with_their_evidence(
        aiohttp_client, db_url, tmp_path):
    _court_before_cases(db_url)
    db = Database(db_url)  # the server closes it when it stops
    def read(s):
        cases = {c.number: c for c in s.execute(select(Case)).scalars()}
        hearings = {h.id: h.case_id for h in s.execute(select(Hearing)).scalars()}
        evidence = {e.id: (e.case_id, e.status)
                    for e in s.execute(select(EvidenceItem)).scalars()}
        return cases, hearings, evidence
    cases, hearings, evidence = await db.run(read)
    assert sorted(cases) == ["1-5/2025", "2-10/2025"]
    shared, single = cases["2-10/2025"], cases["1-5/2025"]
    assert hearings == {1: shared.id, 2: shared.id, 3: single.id}
    assert shared.judge_id == 3 and shared.category == "civil"  # the latest hearing's judge
    assert shared.title == "Дело 2-10/2025" and shared.status == "open"
    assert evidence == {1: (shared.id, "accepted"), 2: (shared.id, "pending"),
                        3: (single.id, "rejected")}

    app = make_app(Config(data_dir=tmp_path, database_url=db_url, transcribe=False,
                          transcribe_evidence=False), db)
    admin = await login(aiohttp_client, app, "admin")
    r = await admin.get(f"/api/cases/{shared.id}")
    assert r.status == 200, await r.text()
    assert [h["id"] for h in (await r.json())["hearings"]] == [1, 2]
    r = await admin.get(f"/api/cases/{shared.id}/evidence")
    assert [(e["id"], e["status"]) for e in (await r.json())["evidence"]] == [
        (1, "accepted"), (2, "pending")]
    # the carried hearings keep working: a new hearing of the number joins the same case
    judge = await login(aiohttp_client, app, "judge2")
    r = await judge.post("/api/hearings", json={
        "case_number": "2-10/2025", "title": "Дело 2-10/2025", "kind": "civil",
        "language": "ru"})
    assert r.status == 201, await r.text()
    assert (await r.json())["case_id"] == shared.id
