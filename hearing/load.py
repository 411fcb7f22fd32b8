"""What this node has not caught up with yet, and whether it may take on more.

A node falls behind long before its CPU figure says so: media the event loop has not read
yet waits in the kernel's UDP receive buffers, where no figure taken after the read (the
forwarding delay) can see it; past about half a second ICE consent checks fail and phones
drop. So the node reads the kernel's own count of unread bytes for each of its UDP sockets
(``/proc/net/udp`` and ``udp6``, the sockets this process holds found by inode through
``/proc/<pid>/fd``), and next to it the queues it keeps itself: frames waiting in the media
forward queues, messages queued to WebSocket clients (the hub) and to the other nodes (the
bus), how far the transcription is behind the audio, and the audio not yet handed to the
asr-workers.

``has_room`` compares these with the limits of the configuration (``load_max_*``). A node
over a limit refuses to take a hearing's live state (``LiveHearings.ensure``, before it takes
the lease) and the takeover of another node's hearing, so the lease goes to a node with room;
the metrics export the same figures (``courtroom_node_*``)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hearing.errors import Unavailable

if TYPE_CHECKING:
    from hearing.state import AppState


class NodeBusy(Unavailable):
    """This node is over one of its load limits: the hearing goes to a node with room, or
    the caller tries again shortly (HTTP 503)."""
    code = "node_busy"


@dataclass(frozen=True)
class UdpBacklog:
    """Unread datagrams of one process's UDP sockets. ``bytes`` is the kernel's receive
    memory (``rx_queue``: payload plus the kernel's per-packet overhead, so a little more
    than the media itself); ``drops`` counts datagrams the kernel threw away because a
    buffer was full, since each socket opened."""
    sockets: int = 0
    bytes: int = 0
    largest: int = 0
    drops: int = 0


def socket_inodes(pid: int | str = "self") -> set[int]:
    """Inodes of the sockets the process holds (``/proc/<pid>/fd`` links ``socket:[N]``)."""
    inodes: set[int] = set()
    fd_dir = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return inodes
    for fd in fds:
        try:
            link = os.readlink(f"{fd_dir}/{fd}")
        except OSError:  # closed meanwhile
            continue
        if link.startswith("socket:["):
            inodes.add(int(link[8:-1]))
    return inodes


def udp_backlog(pid: int | str = "self") -> UdpBacklog:
    """What waits unread in the UDP sockets of process ``pid`` (this one by default). The
    tables are those of the process's network namespace; only its own sockets count."""
    mine = socket_inodes(pid)
    sockets = total = largest = drops = 0
    if not mine:
        return UdpBacklog()
    for table in ("udp", "udp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                lines = f.readlines()[1:]
        except OSError:  # no IPv6, or not Linux
            continue
        for line in lines:
            cols = line.split()
            if len(cols) < 13 or int(cols[9]) not in mine:
                continue
            rx = int(cols[4].split(":")[1], 16)
            sockets += 1
            total += rx
            largest = max(largest, rx)
            drops += int(cols[12])
    return UdpBacklog(sockets, total, largest, drops)


@dataclass(frozen=True)
class Load:
    """One reading of the node's load (what ``has_room`` judges and the metrics show)."""
    hearings: int
    udp: UdpBacklog
    #: frames waiting in the media forward queues, all receivers together, and the age of
    #: the oldest one (seconds): how far the slowest receiver's sender is behind
    forward_frames: int
    forward_wait_s: float
    #: messages queued to this node's WebSocket clients, and to the other nodes
    hub_queued: int
    bus_queued: int
    #: the transcription: finals waiting for the model, the largest stream lag (seconds), and
    #: audio not yet stored for the asr-workers (bytes; asr_mode "workers")
    asr_finals_waiting: int
    asr_lag_s: float
    asr_backlog_bytes: int = 0


def measure(state: "AppState") -> Load:
    lives = state.live.all()
    frames, oldest, now = 0, None, time.monotonic()
    for live in lives:
        room = getattr(live, "room", None)
        for p in (room.participants.values() if room is not None else ()):
            session = p.session
            for slot in (session.slots if session is not None else ()):
                for track in (slot.audio_track, slot.video_track):
                    count, pushed_at = track.waiting()
                    frames += count
                    if pushed_at is not None:
                        oldest = min(oldest or now, pushed_at)
    hub = state.hub
    hub_queued = sum(c.queued for c in hub.all_clients())
    bus_queued = hub.bus.queued
    scheduler = state.live.transcription.scheduler
    finals, lag_s = 0, 0.0
    if scheduler is not None:
        finals = scheduler.queue_depth().get("final", 0)
        lag_s = max((s.backlog_ms / 1000 for s in scheduler.streams()), default=0.0)
    pool = getattr(state.live.transcription, "pool", None)
    return Load(len(lives), udp_backlog(), frames, (now - oldest) if oldest else 0.0,
                hub_queued, bus_queued, finals, lag_s,
                pool.backlog_bytes() if pool is not None else 0)


def over_limit(load: Load, config) -> str | None:  # noqa: ANN001
    """The first limit of ``config`` that ``load`` is past, in words; None when none is. The
    measured limits apply to a node of several (another node can take the hearing); the
    operator's own hearing limit applies always."""
    c = config
    if c.load_max_hearings > 0 and load.hearings >= c.load_max_hearings:
        return f"{load.hearings} hearings live here, the most is {c.load_max_hearings}"
    if not c.nats_url:
        # one node alone has nowhere else to send a hearing: refusing it would stop the court,
        # so what it measures is shown (metrics, readiness), not enforced
        return None
    checks = (
        (load.udp.bytes > c.load_max_udp_backlog_bytes,
         f"{load.udp.bytes} bytes of media wait unread in its UDP sockets "
         f"(limit {c.load_max_udp_backlog_bytes})"),
        (load.forward_wait_s > c.load_max_forward_wait_s,
         f"media waits {load.forward_wait_s:.2f} s to be forwarded "
         f"(limit {c.load_max_forward_wait_s} s)"),
        (load.hub_queued > c.load_max_hub_queued,
         f"{load.hub_queued} messages queued to its clients (limit {c.load_max_hub_queued})"),
        (load.bus_queued > c.load_max_bus_queued,
         f"{load.bus_queued} messages queued to the other nodes "
         f"(limit {c.load_max_bus_queued})"),
        (load.asr_lag_s > c.load_max_asr_lag_s,
         f"transcription is {load.asr_lag_s:.1f} s behind (limit {c.load_max_asr_lag_s} s)"),
        (load.asr_backlog_bytes > c.load_max_asr_backlog_bytes,
         f"{load.asr_backlog_bytes} bytes of audio wait to reach the asr-workers "
         f"(limit {c.load_max_asr_backlog_bytes})"),
    )
    return next((why for over, why in checks if over), None)


def has_room(state: "AppState") -> tuple[bool, str]:
    """May this node take one more hearing (open one, take a lease over)? (False, why) when
    it is past a limit; (True, "") otherwise."""
    why = over_limit(measure(state), state.config)
    return (False, why) if why else (True, "")


def busy(state: "AppState", why: str) -> NodeBusy:
    """The refusal of a node past a limit (``why``, from has_room)."""
    return NodeBusy(f"this server is too busy to take the hearing: {why}",
                    node_id=state.hub.bus.node_id)


def refuse_if_full(state: "AppState") -> None:
    """Raise NodeBusy, saying which limit, when this node has no room for another hearing."""
    ok, why = has_room(state)
    if not ok:
        raise busy(state, why)
