"""The runtime of one server: configuration, database, live-event hub, login limiter, the clock
of every open hearing, and the moving parts (live hearings, courtroom capture, evidence jobs),
started and stopped together. The HTTP edge holds it in the aiohttp app; the CLI builds one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from hearing import audit, auth
from hearing.errors import unauthorized
from hearing.auth import LoginLimiter
from hearing.config import Config, weak_languages
from hearing.db import Database
from hearing.bus import make_bus
from hearing.hub import Hub
from hearing.models import STAFF_ROLES, AuditEvent, Hearing
from hearing.ratelimit import KeyedBuckets
from hearing.roles import Caller
from hearing.transaction import transaction
from media.clock import HearingClock

if TYPE_CHECKING:
    from hearing.evidence_jobs import EvidenceJobs
    from hearing.live import CourtroomCaptures, LiveHearings
    from hearing.live.takeover import Takeover
    from hearing.metrics import Metrics
    from hearing.notice_jobs import NoticeJobs
    from hearing.retranscription import Retranscriptions
    from hearing.transcripts import TranscriptStore


@dataclass
class AppState:
    config: Config
    db: Database
    hub: Hub = field(default_factory=Hub)
    limiter: LoginLimiter | None = None
    clocks: dict[int, HearingClock] = field(default_factory=dict)
    live: "LiveHearings" = None  # type: ignore[assignment]
    transcripts: "TranscriptStore" = None  # type: ignore[assignment]
    evidence: "EvidenceJobs" = None  # type: ignore[assignment]
    retranscription: "Retranscriptions" = None  # type: ignore[assignment]
    courtrooms: "CourtroomCaptures" = None  # type: ignore[assignment]
    notices: "NoticeJobs" = None  # type: ignore[assignment]
    #: a node of several: takes over the open hearings of a node that died (None alone)
    takeover: "Takeover | None" = None
    #: a participant's hand raises: a burst of 3, then one a second
    hands: KeyedBuckets = field(default_factory=lambda: KeyedBuckets(1.0, 3))
    #: leave rows of a participant's closing sockets: a burst of 3, then one per 10 s
    leaves: KeyedBuckets = field(default_factory=lambda: KeyedBuckets(0.1, 3))
    #: closes not written as rows since the participant's last leave row (counted into the next)
    unrecorded_leaves: dict[tuple[int, int], int] = field(default_factory=dict)
    #: this server's Prometheus metrics (its own registry: several servers share a process
    #: in tests)
    metrics: "Metrics" = None  # type: ignore[assignment]
    #: start() has finished (readiness)
    started: bool = False

    def __post_init__(self) -> None:
        from hearing.evidence_jobs import EvidenceJobs
        from hearing.live import CourtroomCaptures, LiveHearings
        from hearing.metrics import Metrics
        from hearing.notice_jobs import NoticeJobs
        from hearing.retranscription import RetranscribeOptions, Retranscriptions
        from hearing.transcripts import TranscriptStore
        if self.transcripts is None:
            self.transcripts = TranscriptStore(self.db)
        if self.config.nats_url or self.config.node_id:  # alone, unnamed: the hub's local bus
            self.hub.use_bus(make_bus(self.config.nats_url, self.config.node_id,
                                      self.config.bus_prefix))
        self.config.node_id = self.hub.bus.node_id  # resolved once: the leases name this node
        if self.live is None:
            self.live = LiveHearings(self)
        self.evidence = EvidenceJobs(self)
        c = self.config
        self.retranscription = Retranscriptions(self, RetranscribeOptions(
            model_dir=c.retranscribe_model_dir or None, device=c.retranscribe_device,
            compute_type=c.retranscribe_compute_type, beam_size=c.retranscribe_beam_size,
            on_close=c.retranscribe_on_close,
            weak_languages=weak_languages(c.retranscribe_weak_languages)))
        self.notices = NoticeJobs(self)
        self.courtrooms = CourtroomCaptures(self)
        self.live.on_transition(self.courtrooms.on_transition)
        if self.config.nats_url:
            from hearing.live.takeover import Takeover
            self.takeover = Takeover(self)
        self.metrics = Metrics(self)
        if self.limiter is None:
            c = self.config
            self.limiter = LoginLimiter(c.login_attempts, c.login_window_s, c.login_backoff_s,
                                        c.login_backoff_max_s, c.login_address_attempts)

    async def start(self) -> None:
        """Start the server's components: uploads and conversions resume, hearings left open
        by a previous process get their courtroom microphones back. The audit key is opened
        first: a wrong passphrase stops the start, not the first tree head hours later."""
        from hearing.stenograms import server_signer
        server_signer(self.config)
        self.live.serve_commands()  # the live effects other nodes send to the hearings held here
        await self.hub.bus.start()  # a node of several that cannot reach the others stops here
        await self.evidence.start()
        await self.retranscription.start()
        await self.notices.start()
        if self.takeover is not None:  # of several: hearings whose lease lapsed, ours too
            await self.takeover.start()
        else:
            await self.courtrooms.resume_after_restart()
        self.started = True

    async def close(self) -> None:
        """Stop everything, in the order data flows: evidence jobs, courtroom capture (which
        flushes into the recorders), live hearings, then the database."""
        self.started = False
        await self.notices.close()
        await self.retranscription.close()
        await self.evidence.close()
        if self.takeover is not None:
            await self.takeover.close()
        await self.courtrooms.close()
        await self.live.close()
        await self.hub.bus.close()
        self.metrics.close()
        self.db.close()

    def clock(self, hearing: Hearing) -> HearingClock | None:
        """The hearing clock, rebuilt from opened_at once per process (also after a restart)."""
        if hearing.opened_at is None:
            return None
        clock = self.clocks.get(hearing.id)
        if clock is None:
            clock = self.clocks[hearing.id] = HearingClock.resume(hearing.opened_at)
        return clock

    def clock_ms(self, hearing: Hearing) -> int | None:
        clock = self.clock(hearing)
        return clock.now_ms() if clock else None

    def audit(self, session: Session, hearing: Hearing | None, actor: str, action: str,
              data: dict | None = None) -> AuditEvent:
        """Append in the caller's transaction, so the action and its audit row commit together."""
        if hearing is None:
            return audit.append(session, audit.SERVER_CHAIN, actor, action, data)
        return audit.append(session, hearing.id, actor, action, data, self.clock_ms(hearing))

    async def transaction(self, caller: Caller | None, fn, *args, **kwargs):  # noqa: ANN001
        """See hearing.transaction: fn(tx, ...) in one transaction, events after the commit."""
        return await transaction(self, caller, fn, *args, **kwargs)

    async def resolve_session(self, token: str) -> Caller | None:
        """The caller of a session cookie (court staff, or a party's professional), or None."""
        def work(s):
            row = auth.find_session(s, token)
            if row is None:
                return None
            u = row.user
            kind = "staff" if u.role in STAFF_ROLES else "party"
            return Caller(kind, u.role, u.display_name, user_id=u.id, csrf=row.csrf_token)
        return await self.db.run(work)

    async def resolve_invite(self, token: str) -> Caller:
        """Participant caller for an invite token; 401 with the reason otherwise."""
        def work(s):
            try:
                inv = auth.resolve_invite(s, token)
            except auth.InviteError as exc:
                raise unauthorized(str(exc)) from None
            p = inv.participant
            return Caller("participant", inv.role, p.display_name, participant_id=p.id,
                          hearing_id=inv.hearing_id)
        return await self.db.run(work)

