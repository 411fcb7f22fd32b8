"""Notices sent per second through the real SMTP path: a hearing of a case with N parties (each
with an e-mail address) is scheduled, which queues N notices (each with its .ics), and the
server's notice jobs send them to an SMTP server in-process (aiosmtpd) and record each as sent
with its audit row. The baseline is the SMTP transfer alone: the same messages, built
beforehand, sent over one plain aiosmtplib connection with no database, in the same run.

    python bench/notices.py [--notices 500] [--database-url URL]"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import aiosmtplib
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hearing.accounts import add_user  # noqa: E402
from hearing.config import Config  # noqa: E402
from hearing.db import Database, upgrade  # noqa: E402
from hearing.models import Case, CaseParty, Notice  # noqa: E402
from hearing.notifications.email import SmtpSender  # noqa: E402
from hearing.notifications.ical import for_attendee, invitation  # noqa: E402
from hearing.notifications.outbound import Outgoing  # noqa: E402
from hearing.notifications.texts import HearingFacts, body  # noqa: E402
from hearing.services import hearings  # noqa: E402
from hearing.state import AppState  # noqa: E402

CASE = "2-500/2026"


class Counter:
    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        self.received += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(db: Database, n: int) -> None:
    def work(s):
        add_user(s, "judge", "benchmark password", "judge", "Judge")
        now = datetime.now(timezone.utc)
        case = Case(number=CASE, category="civil", title="bench", status="open", created_at=now)
        s.add(case)
        s.flush()
        for i in range(n):
            s.add(CaseParty(case_id=case.id, role="witness", display_name=f"W{i}",
                            contact=f"party{i}@example.kz", added_at=now))
    db.run_sync(work)


async def server_path(url: str, tmp: Path, port: int, n: int) -> tuple[float, float]:
    db = Database(url)
    seed(db, n)
    state = AppState(Config(data_dir=tmp, database_url=url, transcribe=False,
                            smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                            smtp_from="notices@court.example.kz"), db)
    await state.start()
    try:
        t0 = time.perf_counter()
        await hearings.schedule_by_operator(state, {
            "case_number": CASE, "title": "bench", "kind": "civil", "language": "kk+ru",
            "scheduled_at": "2026-12-10T04:00:00Z"}, "judge", None)
        queued = time.perf_counter() - t0

        def sent(s) -> int:
            return s.execute(select(func.count()).select_from(Notice)
                             .where(Notice.status == "sent")).scalar()
        while await db.run(sent) < n:
            await asyncio.sleep(0.05)
        return queued, time.perf_counter() - t0
    finally:
        await state.close()


async def baseline(port: int, n: int, ics: str, text: str) -> float:
    sender = SmtpSender("127.0.0.1", port, "notices@court.example.kz", starttls=False)
    wired = [sender.wire(Outgoing(i, f"party{i}@example.kz", "bench", text, ics))
             for i in range(n)]
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await smtp.connect()
    t0 = time.perf_counter()
    for i, (_, data) in enumerate(wired):
        await smtp.sendmail(sender.sender, [f"party{i}@example.kz"], data)
    elapsed = time.perf_counter() - t0
    await smtp.quit()
    return elapsed


async def main(n: int, url: str | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-notices-"))
    url = url or f"sqlite:///{tmp / 'db.sqlite3'}"
    db = Database(url)
    upgrade(db.engine)
    db.close()
    counter, port = Counter(), free_port()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        queued, total = await server_path(url, tmp, port, n)
        check = Database(url)
        sample = check.run_sync(lambda s: s.execute(select(Notice).limit(1)).scalar_one())
        check.close()
        print(f"database: {url.split(':', 1)[0]}; SMTP: aiosmtpd in-process; {n} notices "
              f"(e-mail, kk+ru text, .ics attached), {counter.received} received")
        print(f"queue {n} notices in the scheduling transaction: {queued * 1000:.0f} ms")
        print(f"scheduled -> all {n} recorded as sent: {total:.2f} s "
              f"= {n / total:.0f} notices/s (sending {n / (total - queued):.0f}/s)")
        facts = HearingFacts(CASE, "bench", datetime(2026, 12, 10, 4, tzinfo=timezone.utc),
                             "Asia/Almaty", None)
        ics = for_attendee(invitation("scheduled", sample.ics_uid or "x", 0, facts, 60, "bench",
                                      "notices@court.example.kz"), "party0@example.kz")
        plain = await baseline(port, n, ics, body("scheduled", "kk+ru", facts))
        print(f"baseline, the same messages (built beforehand) over one bare SMTP connection: "
              f"{plain:.2f} s = {n / plain:.0f}/s; server path / baseline = "
              f"{(total - queued) / plain:.2f}x the time")
    finally:
        controller.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notices", type=int, default=500)
    ap.add_argument("--database-url", default=None,
                    help="an empty, migratable database (default: a fresh SQLite file)")
    args = ap.parse_args()
    asyncio.run(main(args.notices, args.database_url))
