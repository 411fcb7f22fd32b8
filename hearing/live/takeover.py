"""Takeover of hearings whose owner node died: a node of several watches the open hearings
(open or in recess) whose lease lapsed and takes them, so a kill -9 of the owner costs the
hearing a few seconds, not its day.

The lease decides who wins (``LiveHearings.ensure`` takes it or raises ``HeldElsewhere``);
a node past its load limits does not try (``hearing.load.has_room``). The winner brings the
live state up as a restarted server would: the room (its recorders continue each source with
new chunks in the shared data directory, after the ones the dead node left), the courtroom's
microphones, and one audit row, ``node.takeover``, that marks on the hearing clock each
source's gap from the end of what the dead node recorded to the takeover. Clients find the new
owner themselves: their WebSocket reconnects (to this node or another; media signalling sends
them to the owner)."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from hearing import leases, load
from hearing.errors import Unavailable
from hearing.models import Hearing, HearingLease
from media.rtc.opus import packet_samples_48k
from media.rtc.recorder import chunk_files, read_chunk_packets
from media.tasks import Tasks

if TYPE_CHECKING:
    from hearing.live.hearings import LiveHearing
    from hearing.state import AppState

log = logging.getLogger(__name__)

#: Sweeps per lease lifetime: a lapsed lease is seen within ttl / SWEEPS (plus some jitter).
SWEEPS = 5


def recorded_until_ms(source_dir: Path, before_ms: int) -> int | None:
    """Hearing-clock end of the last audio in a source's chunks that start before
    ``before_ms`` (the open ``.part`` chunk a killed node left included); None if none."""
    chunks = [c for c in chunk_files(source_dir) if c[1] < before_ms]
    for _seq, start_ms, path in reversed(chunks):
        packets = read_chunk_packets(path)
        if packets:
            pts, payload = packets[-1]
            return start_ms + (pts + packet_samples_48k(payload)) // 48
    return None


def recorded_until(recording_dir: Path, before_ms: int) -> dict[str, int]:
    """source id -> end of its audio recorded before ``before_ms``, for every source of a
    hearing (blocking)."""
    if not recording_dir.is_dir():
        return {}
    out = {}
    for source_dir in sorted(p for p in recording_dir.iterdir() if p.is_dir()):
        end = recorded_until_ms(source_dir, before_ms)
        if end is not None:
            out[source_dir.name] = end
    return out


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


class Takeover:
    """Runs on every node of several (``nats_url`` set): finds open hearings nobody holds and
    takes them."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.tasks = Tasks("takeover")
        self._marked: set[tuple[int, int]] = set()  # (hearing, fence) whose gap is marked

    @property
    def interval_s(self) -> float:
        return max(0.2, self.state.config.lease_ttl_s / SWEEPS)

    async def start(self) -> None:
        self.tasks.start(self._watch(), "watch")

    async def close(self) -> None:
        await self.tasks.close()

    async def _watch(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # the database away for a moment: try again next sweep
                log.exception("takeover sweep failed")
            # jitter: nodes started together do not all reach for a lapsed lease at once
            await asyncio.sleep(self.interval_s * random.uniform(0.8, 1.2))

    async def sweep(self) -> list[int]:
        """Take every orphaned hearing this node has room for; returns the ids taken."""
        node_id = self.state.config.node_id

        def orphans(s):  # noqa: ANN001, ANN202
            rows = s.execute(
                select(Hearing.id, Hearing.opened_at, HearingLease.node_id,
                       HearingLease.expires_at)
                .outerjoin(HearingLease, HearingLease.hearing_id == Hearing.id)
                .where(Hearing.state.in_(("open", "recess")), Hearing.opened_at.is_not(None))
                .order_by(Hearing.id)).all()
            now = datetime.now(timezone.utc)
            grace = timedelta(seconds=self.state.config.lease_ttl_s)
            # lapsed, this node's from before a restart (not live here yet), or never held
            # since it opened (after a grace: the node that opened it takes it just after)
            return [hid for hid, opened, owner, expires in rows
                    if owner == node_id or (expires is not None and _utc(expires) <= now)
                    or (owner is None and _utc(opened) + grace <= now)]
        taken = []
        for hid in await self.state.db.run(orphans):
            if self.state.live.get(hid) is not None:
                continue  # live here already (its lease is this node's to renew)
            room, why = load.has_room(self.state)
            if not room:  # past a load limit: the hearing goes to a node with room
                log.info("hearing %s left to a node with room: %s", hid, why)
                break
            try:
                await self.take(hid)
            except leases.HeldElsewhere:
                continue  # another node was first
            except load.NodeBusy as exc:
                log.info("hearing %s left to a node with room: %s", hid, exc)
                break
            except Unavailable:
                continue  # changing hands this very moment: the next sweep sees who won
            except Exception:
                log.exception("could not take over hearing %s", hid)
                continue
            taken.append(hid)
        return taken

    async def take(self, hearing_id: int) -> None:
        """Hold the hearing's lease and bring its live state up here, as after a restart."""
        live = await self.state.live.ensure(hearing_id)  # the lease decides: HeldElsewhere
        lease = self.state.live.lease(hearing_id)
        if lease is not None and lease.fence > 1:
            self.taken_over(live, lease)
        else:  # this node's own lease, kept over a restart: no owner changed hands
            await self.state.courtrooms.resume(hearing_id)

    def taken_over(self, live: LiveHearing, lease: leases.Lease) -> None:
        """The live state of a hearing that another owner held before (``lease.fence`` > 1)
        was just created here, by the sweep or by a client that reached this node first
        (``LiveHearings.ensure`` calls this): mark the recording gap and bring up the
        courtroom's microphones. Once per lease."""
        key = (live.hearing_id, lease.fence)
        if key in self._marked:
            return
        self._marked.add(key)
        live.tasks.start(self._bring_up(live.hearing_id, lease, live.clock.now_ms()),
                         "takeover")

    async def _bring_up(self, hearing_id: int, lease: leases.Lease, at_ms: int) -> None:
        state = self.state
        rec_dir = Path(state.config.data_dir) / "recordings" / str(hearing_id)
        ends = await asyncio.get_running_loop().run_in_executor(None, recorded_until, rec_dir,
                                                                at_ms)
        gaps = [{"source_id": sid, "from_ms": end, "to_ms": at_ms}
                for sid, end in sorted(ends.items()) if end < at_ms]
        data = {"node_id": lease.node_id, "fence": lease.fence, "at_ms": at_ms, "gaps": gaps}

        try:
            await state.live.fenced(hearing_id, lambda s: state.audit(
                s, s.get(Hearing, hearing_id), "node", "node.takeover", data), lease.fence)
        except leases.StaleOwner:
            return  # taken again meanwhile: the live state here is being stopped
        state.hub.publish(hearing_id, {"type": "media", "event": {"type": "node.takeover",
                                                                  **data}}, staff_only=True)
        log.warning("took over hearing %s (fence %s); recording gaps %s", hearing_id,
                    lease.fence, gaps)
        await state.courtrooms.resume(hearing_id)
