"""Delivery of the queued notices, owned by the runtime (``state.notices``): a worker takes due
notices from the database (so a restart loses none), sends them (e-mail over SMTP, SMS through
the gateway), and records each outcome with its audit row: sent, bounced (refused for good),
or, after notice_max_attempts tries spaced by a doubling backoff, failed.

A notice is claimed by pushing its next attempt a lease ahead (and, on PostgreSQL, with
SKIP LOCKED), so a crash mid-send retries it after the lease, and two servers of one court
never take the same notice at once. A channel with nothing configured is left alone: its
notices stay queued, saying why, until the server starts with a provider configured."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Awaitable, Callable

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from hearing.config import Config
from hearing.models import Notice, NoticeChannel
from hearing.notifications import sealing
from hearing.notifications.email import SmtpSender
from hearing.notifications.outbound import Outcome, Outgoing
from hearing.notifications.sms import HttpSmsGateway, SmsGateway
from hearing.services.notices import SERVER, set_status
from hearing.transaction import Tx
from media.tasks import Tasks

if TYPE_CHECKING:
    from hearing.state import AppState

log = logging.getLogger(__name__)

#: Notices taken per round, and how long a taken notice is held before another try may
#: take it (a crash between sending and recording shows as one more attempt).
BATCH = 50
LEASE_S = 300.0
#: SMTP connections used side by side, and SMS requests in flight.
SMTP_CONNECTIONS = 4
SMS_IN_FLIGHT = 8
#: Longest sleep between looks at the queue (another server may have queued notices), and
#: how often the bodies of long-failed notices are erased.
POLL_S = 30.0
SWEEP_S = 600.0


@dataclass(frozen=True)
class Taken:
    channel: NoticeChannel
    item: Outgoing


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


class NoticeJobs:
    """Started and closed with the server (``AppState.start``/``close``)."""

    def __init__(self, state: "AppState") -> None:
        self.state = state
        self.tasks = Tasks("notices")
        self.email: SmtpSender | None = None
        self.sms: SmsGateway | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    @property
    def channels(self) -> list[NoticeChannel]:
        out: list[NoticeChannel] = []
        if self.email is not None:
            out.append("email")
        if self.sms is not None:
            out.append("sms")
        return out

    async def start(self) -> None:
        if self._loop is not None:  # started already (one runtime behind several sites)
            return
        cfg = self.state.config
        # The sealing key exists before the first notice is queued (and is made only here).
        await asyncio.get_running_loop().run_in_executor(None, sealing.sealer, cfg.data_dir)
        if cfg.smtp_host:
            self.email = SmtpSender(cfg.smtp_host, cfg.smtp_port, cfg.smtp_from,
                                    starttls=cfg.smtp_starttls, user=cfg.smtp_user,
                                    password=cfg.smtp_password)
        if cfg.sms_url:
            self.sms = HttpSmsGateway(cfg.sms_url, cfg.sms_api_key)
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        event.listen(self.state.db.sessions, "after_commit", self._committed)
        self.tasks.start(self._deliver(), "deliver")

    async def close(self) -> None:
        """Stop sending; what is queued or held goes out after the next start."""
        if self._loop is not None:
            event.remove(self.state.db.sessions, "after_commit", self._committed)
        await self.tasks.close()
        if self.sms is not None:
            await self.sms.close()
        self._loop = None

    def wake(self) -> None:
        """Look at the queue now (from any thread)."""
        loop, ev = self._loop, self._wake
        if loop is not None and ev is not None and not loop.is_closed():
            loop.call_soon_threadsafe(ev.set)

    def wake_after_commit(self, session: Session) -> None:
        """Look at the queue once this transaction has committed (its notices are then
        visible to the worker's own transaction)."""
        session.info["notices_queued"] = True

    def _committed(self, session: Session) -> None:
        if session.info.pop("notices_queued", False):
            self.wake()

    # -- the worker -----------------------------------------------------------------------------
    async def _deliver(self) -> None:
        assert self._wake is not None
        swept: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()  # a wake from here on (a commit mid-round) starts another round
            try:
                if swept is None or loop.time() - swept > SWEEP_S:
                    await self.state.db.run(self._sweep)
                    swept = loop.time()
                taken = await self.state.db.run(self._take) if self.channels else []
                if taken:
                    await self.state.transaction(None, _record,
                                                 await self._send(taken), self.state.config)
                    continue
                pause = await self.state.db.run(self._until_due) if self.channels else POLL_S
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notice delivery round failed")
                pause = POLL_S
            try:
                await asyncio.wait_for(self._wake.wait(), pause)
            except asyncio.TimeoutError:
                pass

    def _take(self, s: Session) -> list[tuple[int, Taken | None]]:
        """Claim the due notices of the configured channels: their next attempt moves a lease
        ahead and the attempt is counted. None for a body that can no longer be read."""
        now = datetime.now(timezone.utc)
        rows = s.execute(
            select(Notice).where(Notice.status == "queued", Notice.channel.in_(self.channels),
                                 Notice.next_attempt_at <= now)
            .order_by(Notice.next_attempt_at, Notice.id).limit(BATCH)
            .with_for_update(skip_locked=True)).scalars().all()
        out: list[tuple[int, Taken | None]] = []
        for n in rows:
            n.attempts += 1
            n.next_attempt_at = now + timedelta(seconds=LEASE_S)
            body = sealing.unseal(self.state.config.data_dir, n.body)
            out.append((n.id, None if body is None else Taken(n.channel, Outgoing(
                n.id, n.address, n.subject, body["text"], body.get("ics"),
                body.get("ics_method", "REQUEST")))))
        return out

    async def _send(self, taken: list[tuple[int, Taken | None]]) -> dict[int, Outcome]:
        unreadable = Outcome(False, give_up=True,
                             error="the notice's text cannot be read (the notices key changed)")
        outcomes: dict[int, Outcome] = {nid: unreadable for nid, t in taken if t is None}
        mails = [t.item for _, t in taken if t is not None and t.channel == "email"]
        texts = [t.item for _, t in taken if t is not None and t.channel == "sms"]
        jobs = []
        if mails and self.email is not None:
            email = self.email
            for i in range(min(SMTP_CONNECTIONS, len(mails))):
                jobs.append(_pair(mails[i::SMTP_CONNECTIONS], email.send_batch))
        if texts and self.sms is not None:
            sms, gate = self.sms, asyncio.Semaphore(SMS_IN_FLIGHT)

            async def one(item: Outgoing) -> list[tuple[int, Outcome]]:
                async with gate:
                    return [(item.notice_id, await sms.send(item))]
            jobs += [one(item) for item in texts]
        for pairs in await asyncio.gather(*jobs):
            outcomes.update(pairs)
        return outcomes

    def _until_due(self, s: Session) -> float:
        due = s.execute(select(func.min(Notice.next_attempt_at)).where(
            Notice.status == "queued", Notice.channel.in_(self.channels))).scalar()
        if due is None:
            return POLL_S
        wait = (_utc(due) - datetime.now(timezone.utc)).total_seconds()
        return min(max(wait, 0.01), POLL_S)

    def _sweep(self, s: Session) -> None:
        """A failed notice keeps its sealed body for a resend while its link could still
        work (the invite lifetime); after that the body goes."""
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=self.state.config.invite_ttl_s)
        s.execute(update(Notice).where(Notice.status == "failed", Notice.body != "",
                                       Notice.created_at < cutoff).values(body=""))


async def _pair(items: list[Outgoing],
                send: Callable[[list[Outgoing]], Awaitable[list[Outcome]]]
                ) -> list[tuple[int, Outcome]]:
    return list(zip([i.notice_id for i in items], await send(items)))


def _record(tx: Tx, outcomes: dict[int, Outcome], cfg: Config) -> None:
    """Each outcome with its audit row; a notice resent or reported meanwhile is left as is."""
    now = datetime.now(timezone.utc)
    for nid, out in outcomes.items():
        n = tx.s.get(Notice, nid)
        if n is None or n.status != "queued":
            continue
        if out.sent:
            n.provider_ref, n.last_error = out.provider_ref, ""
            set_status(tx, n, "sent", SERVER, provider_ref=out.provider_ref)
        elif out.permanent:
            n.last_error = out.error[:2000]
            set_status(tx, n, "bounced", SERVER, error=out.error[:500])
        elif out.give_up or n.attempts >= cfg.notice_max_attempts:
            n.last_error = out.error[:2000]
            set_status(tx, n, "failed", SERVER, error=out.error[:500])
        else:
            n.last_error = out.error[:2000]
            delay = min(cfg.notice_backoff_s * 2 ** (n.attempts - 1), cfg.notice_backoff_max_s)
            n.next_attempt_at = now + timedelta(seconds=delay)
            n.updated_at = now
            log.info("notice %d: attempt %d failed, next in %.0f s: %s", nid, n.attempts,
                     delay, out.error)
