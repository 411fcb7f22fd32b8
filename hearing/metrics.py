"""What an operator watches, in the Prometheus format: one registry per server (``AppState``),
never the process-wide default, so several servers in one process (the tests) keep their own.

Two kinds of figures. Events the server sees as they happen are counted when they happen
(HTTP answers per route template and status, database transaction latency, audit rows at
commit). Everything that already has a current value somewhere is read when Prometheus
scrapes: live hearings and their rooms, media forwarding (``media.rtc.forward.COUNTS``), the
speech scheduler's queue, load and per-stream lag and final latency (plain numbers kept by
``asr``, which knows nothing of Prometheus), WebSocket clients and what the hub dropped,
uploads and the conversion queue. ``refresh`` reads the database's figures before a scrape."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterator

from prometheus_client import (CollectorRegistry, Counter, Histogram, disable_created_metrics,
                               generate_latest)
from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                    HistogramMetricFamily, Metric)
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from hearing.hub import DROPPABLE
from hearing.load import measure, over_limit
from hearing.models import HEARING_STATES, AuditEvent, Hearing, HearingLease

if TYPE_CHECKING:
    from hearing.state import AppState

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
disable_created_metrics()  # no *_created series: they double every counter for nothing here


class Metrics:
    def __init__(self, state: "AppState") -> None:
        self.state = state
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_responses = Counter(
            "courtroom_http_responses", "HTTP answers by route template, method and status",
            ["method", "route", "status"], registry=r)
        self.transaction_seconds = Histogram(
            "courtroom_db_transaction_seconds",
            "Time of one workflow's database transaction, queueing for the worker included",
            ["outcome"], registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.audit_rows = Counter("courtroom_audit_rows", "Audit rows committed", registry=r)
        self.hearings_by_state: dict[str, int] = {}
        self.database_up = 1
        #: (hearing id, node id, fence) of every lease in force, read at refresh
        self.lease_owners: list[tuple[int, str, int]] = []
        r.register(_Runtime(state, self))
        self._sessions = state.db.sessions
        self._listeners = (("after_flush", _count_audit_rows), ("after_commit", self._committed),
                           ("after_rollback", _forget_audit_rows))
        for name, fn in self._listeners:
            if not event.contains(self._sessions, name, fn):
                event.listen(self._sessions, name, fn)

    def close(self) -> None:
        for name, fn in self._listeners:
            if event.contains(self._sessions, name, fn):
                event.remove(self._sessions, name, fn)

    def _committed(self, session: Session) -> None:
        rows = session.info.pop("audit_rows", 0)
        if rows:
            self.audit_rows.inc(rows)

    async def refresh(self) -> None:
        """Read the figures that live in the database (hearings by state, leases in force)."""
        def work(s: Session) -> tuple[dict[str, int], list[tuple[int, str, int]]]:
            now = datetime.now(timezone.utc)
            leases = [(row.hearing_id, row.node_id, row.fence)
                      for row in s.execute(select(HearingLease)).scalars()
                      if (row.expires_at if row.expires_at.tzinfo else
                          row.expires_at.replace(tzinfo=timezone.utc)) > now]
            return dict(s.execute(select(Hearing.state, func.count())
                                  .group_by(Hearing.state)).all()), leases
        try:
            self.hearings_by_state, self.lease_owners = await self.state.db.run(work)
            self.database_up = 1
        except Exception as exc:  # the scrape still answers: the database is down
            log.warning("metrics: database unreachable: %s", exc)
            self.database_up = 0

    async def exposition(self) -> bytes:
        await self.refresh()
        return generate_latest(self.registry)


def _count_audit_rows(session: Session, flush_context: object) -> None:
    rows = sum(1 for obj in session.new if isinstance(obj, AuditEvent))
    if rows:
        session.info["audit_rows"] = session.info.get("audit_rows", 0) + rows


def _forget_audit_rows(session: Session) -> None:
    session.info.pop("audit_rows", None)


class _Runtime:
    """The figures read at scrape time from the running server."""

    def __init__(self, state: "AppState", metrics: Metrics) -> None:
        self.state = state
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []  # read at scrape time only; names are fixed below

    def collect(self) -> Iterator[Metric]:
        yield from self._hearings()
        yield from self._media()
        yield from self._asr()
        yield from self._websockets()
        yield from self._evidence()
        yield from self._load()

    def _hearings(self) -> Iterator[Metric]:
        m = self.metrics
        g = GaugeMetricFamily("courtroom_hearings", "Hearings in the database by state",
                              labels=["state"])
        for st in HEARING_STATES:
            g.add_metric([st], m.hearings_by_state.get(st, 0))
        yield g
        yield GaugeMetricFamily("courtroom_hearings_live", "Hearings with live media and "
                                "transcription in this process", value=len(self.state.live.all()))
        yield GaugeMetricFamily("courtroom_database_up", "1 if the last scrape could read the "
                                "database", value=m.database_up)
        yield GaugeMetricFamily("courtroom_started", "1 once the server has started",
                                value=int(self.state.started))

    def _media(self) -> Iterator[Metric]:
        from media.rtc.forward import COUNTS
        participants = GaugeMetricFamily(
            "courtroom_participants_connected", "Participants with a live WebRTC connection",
            labels=["hearing_id"])
        tracks = GaugeMetricFamily("courtroom_media_tracks", "Tracks forwarded to receivers",
                                   labels=["kind"])
        audio = video = 0
        for live in self.state.live.all():
            room = getattr(live, "room", None)
            if room is None:
                continue
            connected = [p for p in room.participants.values() if p.session is not None]
            participants.add_metric([str(live.hearing_id)], len(connected))
            for p in connected:
                for slot in p.session.slots:
                    if slot.source is not None:
                        audio += 1
                        video += 1
        tracks.add_metric(["audio"], audio)
        tracks.add_metric(["video"], video)
        yield participants
        yield tracks
        for name, doc, counts in (
                ("courtroom_forwarded_packets", "Media packets forwarded to receivers",
                 COUNTS.packets),
                ("courtroom_forwarded_bytes", "Media bytes forwarded to receivers", COUNTS.bytes),
                ("courtroom_forward_dropped", "Frames dropped for receivers that fell behind",
                 COUNTS.dropped)):
            c = CounterMetricFamily(name, doc, labels=["kind"])
            for kind, value in counts.items():
                c.add_metric([kind], value)
            yield c

    def _asr(self) -> Iterator[Metric]:
        scheduler = self.state.live.transcription.scheduler
        yield GaugeMetricFamily("courtroom_asr_model_loaded", "1 once the Whisper model is "
                                "loaded", value=int(scheduler is not None))
        queue = GaugeMetricFamily("courtroom_asr_queue_depth", "Work waiting for the model",
                                  labels=["kind"])
        busy = GaugeMetricFamily("courtroom_asr_model_busy_ratio",
                                 "Fraction of the recent window the model spent decoding")
        lag = GaugeMetricFamily("courtroom_asr_lag_seconds", "Wall clock minus the end of the "
                                "audio transcribed, per stream", labels=["hearing_id", "source_id"])
        latency = HistogramMetricFamily(
            "courtroom_asr_final_latency_seconds",
            "From hearing the end of an utterance to its final, per stream",
            labels=["hearing_id", "source_id"])
        depth = scheduler.queue_depth() if scheduler else {"final": 0, "partial": 0,
                                                            "offline": 0}
        for kind, n in depth.items():
            queue.add_metric([kind], n)
        busy.add_metric([], scheduler.load() if scheduler else 0.0)
        for stream in scheduler.streams() if scheduler else []:
            labels = [str(stream.key.hearing_id), stream.key.source_id]
            lag.add_metric(labels, stream.lag_ms / 1000)
            with stream.lock:
                h = stream.final_latency
                counts, total = list(h.counts), h.sum_s
            cumulative, buckets = 0, []
            for bound, n in zip((*h.BOUNDS_S, float("inf")), counts):
                cumulative += n
                buckets.append(("+Inf" if bound == float("inf") else str(bound), cumulative))
            latency.add_metric(labels, buckets, total)
        yield from (queue, busy, lag, latency)

    def _websockets(self) -> Iterator[Metric]:
        hub = self.state.hub
        clients = GaugeMetricFamily("courtroom_ws_clients", "Connected WebSocket clients",
                                    labels=["caller"])
        kinds = {"staff": 0, "party": 0, "participant": 0}
        for client in hub.all_clients():
            kind = getattr(client.caller, "kind", "participant")
            kinds[kind] = kinds.get(kind, 0) + 1
        for kind, n in kinds.items():
            clients.add_metric([kind], n)
        yield clients
        dropped = CounterMetricFamily("courtroom_ws_dropped_messages", "Messages dropped for "
                                      "slow clients, by the dropped message's type",
                                      labels=["reason"])
        for reason, n in sorted({**dict.fromkeys(DROPPABLE, 0),
                                 **hub.dropped_by_reason()}.items()):
            dropped.add_metric([reason], n)
        yield dropped
        closed = CounterMetricFamily("courtroom_ws_closed", "WebSocket connections ended, by "
                                     "reason", labels=["reason"])
        for reason, n in sorted(hub.closed.items()):
            closed.add_metric([reason], n)
        yield closed

    def _evidence(self) -> Iterator[Metric]:
        jobs = self.state.evidence
        uploads, transcoder = jobs.uploads, jobs.transcoder
        yield CounterMetricFamily("courtroom_upload_received_bytes", "Evidence upload bytes "
                                  "received", value=uploads.received_bytes if uploads else 0)
        yield GaugeMetricFamily("courtroom_upload_sessions", "Evidence uploads not yet "
                                "completed", value=uploads.open_sessions if uploads else 0)
        conv = GaugeMetricFamily("courtroom_conversions", "Playback copies waiting or being "
                                 "made", labels=["state"])
        conv.add_metric(["queued"], transcoder.queued if transcoder else 0)
        conv.add_metric(["running"], transcoder.running if transcoder else 0)
        yield conv
        yield GaugeMetricFamily("courtroom_evidence_transcriptions", "Evidence transcriptions "
                                "queued or running", value=len(jobs.transcription))

    def _load(self) -> Iterator[Metric]:
        """The node's own load (hearing/load.py) and who holds each open hearing's lease."""
        load = measure(self.state)
        for name, doc, value in (
                ("courtroom_node_udp_backlog_bytes", "Bytes waiting unread in this process's "
                 "UDP sockets (the kernel's rx_queue: media not read yet)", load.udp.bytes),
                ("courtroom_node_udp_backlog_largest_bytes", "Unread bytes of the fullest UDP "
                 "socket", load.udp.largest),
                ("courtroom_node_udp_sockets", "UDP sockets this process holds",
                 load.udp.sockets),
                ("courtroom_node_forward_queued_frames", "Media frames waiting in the forward "
                 "queues, all receivers", load.forward_frames),
                ("courtroom_node_forward_wait_seconds", "Age of the oldest media frame waiting "
                 "to be forwarded", load.forward_wait_s),
                ("courtroom_node_hub_queued_messages", "Messages queued to this node's "
                 "WebSocket clients", load.hub_queued),
                ("courtroom_node_bus_queued_messages", "Messages queued to the other nodes",
                 load.bus_queued),
                ("courtroom_node_asr_lag_max_seconds", "Most audio any stream has received "
                 "and not yet transcribed", load.asr_lag_s),
                ("courtroom_node_asr_backlog_bytes", "Audio not yet handed to the asr-workers",
                 load.asr_backlog_bytes),
                ("courtroom_node_has_room", "1 while this node takes new hearings (no load "
                 "limit passed)", int(over_limit(load, self.state.config) is None))):
            yield GaugeMetricFamily(name, doc, value=value)
        yield CounterMetricFamily("courtroom_node_udp_drops", "Datagrams the kernel dropped "
                                  "on this process's UDP sockets (receive buffer full)",
                                  value=load.udp.drops)
        owner = GaugeMetricFamily("courtroom_hearing_lease_owner", "The lease of each open "
                                  "hearing: its owner node, valued by the lease's fence",
                                  labels=["hearing_id", "node_id"])
        for hearing_id, node_id, fence in self.metrics.lease_owners:
            owner.add_metric([str(hearing_id), node_id], fence)
        yield owner
