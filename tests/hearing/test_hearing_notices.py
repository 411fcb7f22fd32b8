"""Notices as the people of a case receive them: a real SMTP server in-process (aiosmtpd) reads
the e-mails with their calendar invitations, a small HTTP server stands in for the SMS
provider, and the secretary follows delivery, resends and reads the audit rows."""

from __future__ import annotations

import asyncio
import email
import socket
import stat
from datetime import datetime, timezone
from email import policy

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from icalendar import Calendar
from sqlalchemy import select

from hearing.models import AuditEvent, Case, CaseParty, Notice, User
from hearing.notifications.contacts import Address, parse_contact
from hearing.notifications.sealing import key_path

from hearing_testlib import OwnServer, app_with_users, login, schedule

CASE = "2-77/2026"
HOST = "court.example.kz"
SMS_KEY = "sms-api-key-not-for-logs"
REPORT_SECRET = "delivery-report-secret"


def test_contacts_become_addresses_or_are_refused():
    assert parse_contact(" Ivanov@Example.KZ ") == Address("email", "Ivanov@example.kz")
    assert parse_contact("8 (701) 234-56-78") == Address("sms", "+77012345678")
    assert parse_contact("+7 701 234 56 78") == Address("sms", "+77012345678")
    assert parse_contact("00 44 20 7946 0958") == Address("sms", "+442079460958")
    for unusable in ("", "call me after lunch", "ivanov@", "ivanov@localhost", "12345",
                     "+0 701 234 56 78", "a b@example.kz"):
        assert parse_contact(unusable) is None, unusable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """What the SMTP server received; it refuses nobody@ with a permanent 550."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001
        if address.startswith("nobody@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def smtp_server(port: int, box: Mailbox) -> Controller:
    c = Controller(box, hostname="127.0.0.1", port=port)
    c.start()
    return c


@pytest.fixture
def mailbox():
    box, port = Mailbox(), free_port()
    controller = smtp_server(port, box)
    yield box, port
    controller.stop()


@pytest.fixture
async def sms_provider():
    """The SMS gateway: records each request and answers with its message id."""
    got: list[dict] = []

    async def send(request: web.Request) -> web.Response:
        got.append({"key": request.headers.get("X-API-Key"), **(await request.json())})
        return web.json_response({"id": f"sms-{len(got)}"})
    app = web.Application()
    app.router.add_post("/send", send)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/send", got
    await runner.cleanup()


def notices_config(smtp_port: int, sms_url: str = "") -> dict:
    return dict(smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_starttls=False,
                smtp_from=f"notices@{HOST}", sms_url=sms_url, sms_api_key=SMS_KEY,
                notice_report_secret=REPORT_SECRET, notice_max_attempts=3,
                notice_backoff_s=0.1, notice_backoff_max_s=0.3,
                public_url=f"http://{HOST}")


def add_case(db, parties: list[tuple[str, str, str]]) -> int:
    """A case (heard without a court, like the scheduled hearings) with its parties."""
    def work(s):
        now = datetime.now(timezone.utc)
        case = Case(number=CASE, category="civil", title="Иванов А. к ТОО «Береке»",
                    status="open", created_at=now)
        s.add(case)
        s.flush()
        for role, name, contact in parties:
            s.add(CaseParty(case_id=case.id, role=role, display_name=name, contact=contact,
                            added_at=now))
        return case.id
    return db.run_sync(work)


def set_contact(db, user_id: int, contact: str) -> None:
    def work(s):
        s.get(User, user_id).contact = contact
    db.run_sync(work)


async def wait_notices(staff, hearing_id: int, done, timeout: float = 15.0) -> list[dict]:
    """The hearing's notices once ``done(notices)`` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        r = await staff.get(f"/api/hearings/{hearing_id}/notices")
        assert r.status == 200, await r.text()
        items = (await r.json())["notices"]
        if done(items):
            return items
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"notices did not settle: {items}")
        await asyncio.sleep(0.05)


def settled(kind: str, count: int):  # noqa: ANN201
    def check(items: list[dict]) -> bool:
        mine = [n for n in items if n["kind"] == kind]
        return len(mine) == count and all(n["status"] != "queued" for n in mine)
    return check


def calendar_of(msg) -> Calendar:  # noqa: ANN001
    part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
    return Calendar.from_ical(part.get_content())


def text_of(msg) -> str:  # noqa: ANN001
    return next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_content()


async def test_schedule_move_invite_cancel_reach_everyone(aiohttp_client, db_url, tmp_path,
                                                          mailbox, sms_provider):
    box, smtp_port = mailbox
    sms_url, texts = sms_provider
    app, db, ids = app_with_users(db_url, tmp_path, **notices_config(smtp_port, sms_url))
    add_case(db, [("plaintiff", "Иванов А.", "ivanov@Example.KZ"),
                  ("defendant", "ТОО «Береке»", "8 (701) 234-56-78"),
                  ("representative", "Same plaintiff", "ivanov@example.kz"),
                  ("witness", "Unknown", "nobody@example.kz"),
                  ("expert", "No way to reach", "call me after lunch")])
    set_contact(db, ids["secretary"], f"secretary@{HOST}")
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    h = await schedule(judge, ids["secretary"], case_number=CASE,
                       scheduled_at="2026-12-10T04:00:00Z")
    hid, uid = h["id"], f"hearing-{h['id']}@{HOST}"

    # scheduled: e-mail (with the .ics) and SMS, once per address; the refused one bounces
    items = await wait_notices(sec, hid, settled("scheduled", 4))
    by_address = {n["address"]: n for n in items}
    assert set(by_address) == {"ivanov@example.kz", "+77012345678", "nobody@example.kz",
                               f"secretary@{HOST}"}
    assert by_address["+77012345678"]["channel"] == "sms"
    assert by_address["ivanov@example.kz"]["status"] == "sent"
    assert by_address["nobody@example.kz"]["status"] == "bounced"
    assert "550" in by_address["nobody@example.kz"]["last_error"]
    [mail] = box.to("ivanov@example.kz")
    cal = calendar_of(mail)
    ev = cal.walk("VEVENT")[0]
    assert cal["METHOD"] == "REQUEST" and str(ev["UID"]) == uid and ev["SEQUENCE"] == 0
    assert ev.decoded("DTSTART") == datetime(2026, 12, 10, 4, 0, tzinfo=timezone.utc)
    body = text_of(mail)
    assert CASE in body and "10.12.2026 09:00" in body  # the court's time (Asia/Almaty)
    assert "Дело №" in body and "Іс №" in body  # a kk+ru hearing: both languages
    [sms] = texts
    assert sms["to"] == "+77012345678" and sms["key"] == SMS_KEY and CASE in sms["text"]

    # rescheduled: the same event, a higher SEQUENCE, the new time
    r = await judge.patch(f"/api/hearings/{hid}", json={"scheduled_at": "2026-12-11T05:30:00Z"})
    assert r.status == 200, await r.text()
    await wait_notices(sec, hid, settled("rescheduled", 4))
    update = box.to("ivanov@example.kz")[-1]
    ev = calendar_of(update).walk("VEVENT")[0]
    assert str(ev["UID"]) == uid and ev["SEQUENCE"] == 1
    assert "11.12.2026 10:30" in text_of(update)
    assert len(texts) == 2

    # invited: only that participant, with a join link that works; no plain token is stored
    r = await sec.post(f"/api/hearings/{hid}/participants",
                       json={"role": "witness", "display_name": "Сидоров С.С.",
                             "contact": "sidorov@example.kz"})
    p = await r.json()
    r = await sec.post(f"/api/hearings/{hid}/participants/{p['id']}/invites", json={})
    assert r.status == 201
    token = (await r.json())["token"]
    items = await wait_notices(sec, hid, settled("invited", 1))
    assert [n["address"] for n in items if n["kind"] == "invited"] == ["sidorov@example.kz"]
    [invitation] = box.to("sidorov@example.kz")
    link = next(w for w in text_of(invitation).split() if w.startswith(f"http://{HOST}/join#"))
    client = await aiohttp_client(app)
    r = await client.get(f"/api/hearings/{hid}",
                         headers={"Authorization": f"Bearer {link.split('#', 1)[1]}"})
    assert r.status == 200
    assert calendar_of(invitation).walk("VEVENT")[0]["SEQUENCE"] == 1

    def stored(s):
        rows = s.execute(select(Notice)).scalars().all()
        audit = s.execute(select(AuditEvent)).scalars().all()
        return ([f"{n.subject} {n.body} {n.last_error}" for n in rows],
                [str(a.data) for a in audit])
    notice_text, audit_text = db.run_sync(stored)
    assert not any(secret in t for t in notice_text + audit_text for secret in (token, SMS_KEY))
    assert stat.S_IMODE(key_path(tmp_path).stat().st_mode) == 0o600

    # cancelled: METHOD:CANCEL for the same event
    r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "cancelled"})
    assert r.status == 200
    await wait_notices(sec, hid, settled("cancelled", 5))
    cancel = box.to("ivanov@example.kz")[-1]
    cal = calendar_of(cancel)
    assert cal["METHOD"] == "CANCEL"
    ev = cal.walk("VEVENT")[0]
    assert str(ev["UID"]) == uid and ev["SEQUENCE"] == 2 and ev["STATUS"] == "CANCELLED"

    # the SMS provider reports delivery (with the shared secret only)
    report = {"provider_ref": "sms-1", "status": "delivered"}
    anon = await aiohttp_client(app)
    r = await anon.post("/api/notices/delivery", json=report,
                        headers={"X-Delivery-Secret": "guess"})
    assert r.status == 403
    r = await anon.post("/api/notices/delivery", json=report,
                        headers={"X-Delivery-Secret": REPORT_SECRET})
    assert r.status == 200 and (await r.json())["status"] == "delivered"
    r = await sec.get(f"/api/hearings/{hid}/notices", params={"status": "delivered"})
    [delivered] = (await r.json())["notices"]
    assert delivered["address"] == "+77012345678" and delivered["kind"] == "scheduled"

    # every step is on the hearing's audit chain
    r = await judge.get(f"/api/hearings/{hid}/audit")
    log = await r.json()
    actions = [e["action"] for e in log["events"]]
    assert log["verified"] is True
    assert actions.count("notice.queued") == 4 + 4 + 1 + 5
    for action in ("notice.sent", "notice.bounced", "notice.delivered"):
        assert action in actions
    skipped = [e["data"] for e in log["events"] if e["action"] == "notice.skipped"]
    assert skipped[0] == {"kind": "scheduled", "unusable_contacts": 1}
    assert not any(a in str(e["data"]) for e in log["events"]  # addresses are masked
                   for a in ("ivanov@", "+77012345678"))


async def test_smtp_down_retries_then_fails_and_resend_delivers(aiohttp_client, db_url,
                                                                tmp_path):
    port = free_port()
    app, db, ids = app_with_users(db_url, tmp_path, **notices_config(port))
    set_contact(db, ids["secretary"], f"secretary@{HOST}")
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    h = await schedule(judge, ids["secretary"], scheduled_at="2026-12-10T04:00:00Z")
    [failed] = await wait_notices(sec, h["id"], settled("scheduled", 1))
    assert failed["status"] == "failed" and failed["attempts"] == 3
    assert "cannot reach the e-mail server" in failed["last_error"]

    box = Mailbox()
    controller = smtp_server(port, box)
    try:
        r = await sec.post(f"/api/notices/{failed['id']}/resend")
        assert r.status == 200 and (await r.json())["status"] == "queued"
        [sent] = await wait_notices(sec, h["id"], settled("scheduled", 1))
        assert sent["status"] == "sent" and sent["attempts"] == 1
        [mail] = box.to(f"secretary@{HOST}")
        assert calendar_of(mail)["METHOD"] == "REQUEST"
        r = await sec.post(f"/api/notices/{failed['id']}/resend")
        assert r.status == 409  # only failed notices are sent again
    finally:
        controller.stop()
    r = await judge.get(f"/api/hearings/{h['id']}/audit")
    actions = [e["action"] for e in (await r.json())["events"]]
    assert actions.count("notice.queued") == 2  # queued, then queued again by the resend
    assert actions.index("notice.failed") < actions.index("notice.sent")


async def test_notices_wait_for_a_provider_and_survive_a_restart(aiohttp_client, db_url, tmp_path,
                                                                mailbox):
    box, smtp_port = mailbox
    app, db, ids = app_with_users(db_url, tmp_path)  # the embedded default: no provider
    set_contact(db, ids["secretary"], f"secretary@{HOST}")
    own = await OwnServer(app).start()
    judge = await login(own.client, app, "judge")
    h = await schedule(judge, ids["secretary"], scheduled_at="2026-12-10T04:00:00Z")
    r = await judge.get(f"/api/hearings/{h['id']}/notices")
    [n] = (await r.json())["notices"]
    assert n["status"] == "queued" and n["attempts"] == 0
    assert "no e-mail server configured" in n["last_error"]
    other = await login(own.client, app, "judge2")
    assert (await other.get(f"/api/hearings/{h['id']}/notices")).status == 403
    await own.close_clients()
    await own.server.close()  # the server stops; the notice stays in the database

    from hearing.app import make_app
    from hearing.config import Config
    app = make_app(Config(data_dir=tmp_path, database_url=db_url, **notices_config(smtp_port)))
    judge = await login(aiohttp_client, app, "judge")
    [n] = await wait_notices(judge, h["id"], settled("scheduled", 1))
    assert n["status"] == "sent" and n["last_error"] == ""
    [mail] = box.to(f"secretary@{HOST}")
    assert calendar_of(mail)["METHOD"] == "REQUEST"
