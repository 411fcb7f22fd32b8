"""Resumable evidence uploads, streamed to disk, hashed while streaming, committed whole.

A tus-like protocol below the HTTP layer: ``create`` an upload (optionally declaring its size
and SHA-256), ``append`` body chunks at an offset (a dropped connection keeps what arrived;
the client asks ``status`` for the offset and sends the rest), then ``complete``: size and
declared hash are checked, the file is validated as media and only then renamed into the
content-addressed blob store (the file is parsed only in a confined child process, see
``sandbox``). Until then the bytes live in ``<id>.part`` beside a small JSON
state file, so an upload survives a server restart and resumes at its last checkpoint.

Several servers may share the upload folder (the data directory mounted on every node), so a
phone's next request may land on another node. Then a lock every node honours (``UploadLocks``,
the hearing server's is a database row with an expiry) is held by one node at a time while it
appends, completes or cancels; the holder renews it while it works and a dead node's lock
lapses. The node that takes it re-reads the state file, cuts the part file back to the
checkpoint (bytes after it were never acknowledged) and carries the running hash on from what
it had hashed, or re-hashes the part file once. A request for an upload that another node is
writing is refused with the offset to resume from.

Memory stays bounded: at most two buffers of ``buffer_bytes`` per upload are alive (one being
filled from the network, one being written and hashed in the executor)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import AsyncIterable
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from stenogram.files import fsync_dir, write_private

from ..blobstore import BlobStore
from ..tasks import Tasks
from .errors import (EvidenceError, EvidenceRejected, HashMismatch, InsufficientStorage,
                     OffsetMismatch, UploadBusy, UploadIncomplete, UploadNotFound,
                     UploadTooLarge)
from .probe import MediaInfo
from .sandbox import SandboxLimits, validate_sandboxed
from .validate import ValidationLimits

_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class UploadOptions:
    max_bytes: int = 2 << 30  # 2 GiB: a long phone video; configurable per court
    buffer_bytes: int = 1 << 20  # unit handed to the executor for write+hash (two alive at most)
    checkpoint_bytes: int = 32 << 20  # fsync and record the offset this often within a request
    min_free_bytes: int = 256 << 20  # keep this much disk free for the database and recordings
    expire_after_s: float = 24 * 3600.0  # unfinished uploads idle this long are removed
    validate: bool = True  # check the file is audio/video/photo before it becomes a blob
    # A new request for an upload that is still receiving on another connection stops the
    # old one (a phone that switched networks leaves a half-open connection behind, and its
    # retry must not wait for TCP to time out); the old request keeps what it received.
    takeover: bool = True
    takeover_wait_s: float = 10.0  # then UploadBusy
    limits: ValidationLimits = field(default_factory=ValidationLimits)
    # the submitted file is parsed only in a confined child process (memory, CPU, time), and
    # only this many at once, so parallel uploads cannot multiply the memory a parse may take
    sandbox: SandboxLimits = field(default_factory=SandboxLimits)
    parallel_parses: int = 2
    # with several servers (``locks``): a node's hold on an upload lapses this long after its
    # last renewal (it renews a third of the way), so a node that died frees it within this
    lease_ttl_s: float = 30.0


class UploadLocks(Protocol):
    """A lock on one upload that every server sharing the upload folder sees. ``holder``
    names one server's manager; taking a lock it already holds renews it."""

    async def acquire(self, upload_id: str, holder: str, ttl_s: float) -> bool:
        """Take (or keep) the lock if it is free, lapsed or already ``holder``'s."""

    async def renew(self, upload_id: str, holder: str, ttl_s: float) -> bool:
        """Extend ``holder``'s lock; False if it is no longer ``holder``'s."""

    async def release(self, upload_id: str, holder: str) -> None: ...


class LeaseLost(OffsetMismatch):
    """This server's lock on an upload passed to another server while it was writing; the
    client asks where the upload ends and resumes there."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class UploadState:
    """What is persisted in ``<id>.json``. ``offset`` is a durable checkpoint: the data file was
    fsynced up to it before it was written here."""
    id: str
    created_at: str
    updated_at: str
    filename: str | None = None  # as the client named it: data, never a path
    content_type: str | None = None  # as the client declared it: data, never trusted
    size: int | None = None  # declared total length, if the client knew it
    sha256: str | None = None  # declared hash, checked on completion
    meta: dict[str, Any] = field(default_factory=dict)  # who/connection/hearing, opaque here
    offset: int = 0
    completing: str | None = None  # hash being committed (survives a crash mid-commit)
    receipt: dict[str, Any] | None = None  # set once the blob is committed


@dataclass(frozen=True)
class UploadStatus:
    id: str
    offset: int
    size: int | None
    filename: str | None
    created_at: str
    updated_at: str
    completed: bool
    meta: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Receipt:
    """What the submitter is given, and what the custody record keeps."""
    upload_id: str
    sha256: str
    size: int
    received_at: str  # UTC, when the last byte was committed
    started_at: str  # UTC, when the upload was created
    filename: str | None
    content_type: str | None
    meta: dict[str, Any]
    media: MediaInfo | None  # None only when validation is switched off
    already_stored: bool  # the same bytes were already a blob (shared, not copied)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["media"] = self.media.to_json() if self.media else None
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Receipt":
        d = dict(d)
        d["media"] = MediaInfo.from_json(d["media"]) if d.get("media") else None
        return cls(**d)


class _Session:
    """In-memory companion of one upload: the running hash and a lock so that two requests
    never write the same file at once."""

    def __init__(self, state: UploadState, part: Path) -> None:
        self.state = state
        self.part = part
        self.lock = asyncio.Lock()
        self.hasher: Any = None
        self.hashed = 0  # bytes of the part file that are in ``hasher``
        self.written = 0  # bytes in the part file (>= state.offset between checkpoints)
        self.draining: asyncio.Future[None] | None = None  # last writes of a broken request
        self.writer: asyncio.Task[Any] | None = None  # the request appending right now
        # several servers: the shared lock, held while a request of this server works on it
        self.leased = False
        self.lost = False  # the lock passed to another server: write nothing more
        self.lease_ops = asyncio.Lock()  # taking, renewing and giving it up, one at a time
        self.renewing: asyncio.Task[None] | None = None

    async def settle(self) -> None:
        """Wait until the writes of an earlier, interrupted request have landed."""
        if self.draining is not None and not self.draining.done():
            await asyncio.shield(self.draining)


class UploadManager:
    """All uploads of one server. ``directory`` must be on the blob store's filesystem (the
    final step is a rename); by default it is ``<store root>/uploads``."""

    def __init__(self, store: BlobStore, options: UploadOptions = UploadOptions(),
                 directory: Path | None = None, executor: Executor | None = None,
                 locks: UploadLocks | None = None) -> None:
        self.store = store
        #: set when several servers share the folder; None: this process alone writes it
        self.locks = locks
        self.holder = secrets.token_hex(12)
        self.options = options
        self.dir = Path(directory) if directory else store.root / "uploads"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.executor = executor
        self._sessions: dict[str, _Session] = {}
        #: bytes received over all uploads since this manager started (for metrics)
        self.received_bytes = 0
        self._parsing = asyncio.Semaphore(options.parallel_parses)
        self._loading = asyncio.Lock()
        # the last writes of a request that broke off: they outlive the request (its handler
        # may be cancelled) and are awaited, never cancelled, when the manager closes
        self._drains = Tasks("evidence uploads")

    # -- helpers ------------------------------------------------------------------------
    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def _paths(self, upload_id: str) -> tuple[Path, Path]:
        if not isinstance(upload_id, str) or not _ID.match(upload_id):
            raise UploadNotFound("No such upload.", upload_id=str(upload_id)[:80])
        return self.dir / f"{upload_id}.part", self.dir / f"{upload_id}.json"

    def _status(self, s: _Session) -> UploadStatus:
        st = s.state
        return UploadStatus(st.id, st.offset, st.size, st.filename, st.created_at,
                            st.updated_at, st.receipt is not None, dict(st.meta))

    def _check_space(self, needed: int) -> None:
        free = shutil.disk_usage(self.dir).free
        if free - needed < self.options.min_free_bytes:
            raise InsufficientStorage("The server is short of disk space; try again later.",
                                      free_bytes=free)

    def _read_state_sync(self, upload_id: str) -> UploadState:
        part, state_path = self._paths(upload_id)
        try:
            raw = json.loads(state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UploadNotFound("No such upload (finished long ago, expired or never "
                                 "created).", upload_id=upload_id) from None
        return UploadState(**raw)

    @staticmethod
    def _cut_sync(s: _Session) -> None:
        """Cut the data file back to its last checkpoint (bytes after it were never
        acknowledged to the client)."""
        state = s.state
        if state.receipt is None and not state.completing:  # mid-commit: complete() finishes
            with open(s.part, "r+b") as f:
                size = os.fstat(f.fileno()).st_size
                if size > state.offset:
                    f.truncate(state.offset)
                    os.fsync(f.fileno())
                elif size < state.offset:
                    state.offset = size
        s.written = state.offset

    def _load_sync(self, upload_id: str) -> _Session:
        """Rebuild a session from disk. Alone, the data file is cut back to its checkpoint at
        once; with several servers only under the shared lock (``_refresh_sync``)."""
        state = self._read_state_sync(upload_id)
        s = _Session(state, self._paths(upload_id)[0])
        if self.locks is None:
            self._cut_sync(s)
        else:
            s.written = state.offset
        return s

    def _refresh_sync(self, s: _Session) -> None:
        """Under the shared lock: the state as the last holder left it. The running hash is
        kept when it covers only bytes that were already durable (they cannot have changed)."""
        known = s.state.offset
        s.state = self._read_state_sync(s.state.id)
        self._cut_sync(s)
        if s.hasher is not None and not (s.hashed <= known and s.hashed <= s.written):
            s.hasher, s.hashed = None, 0

    async def _session(self, upload_id: str) -> _Session:
        self._paths(upload_id)
        s = self._sessions.get(upload_id)
        if s is None:
            async with self._loading:  # one load per upload: loading cuts the file back
                s = self._sessions.get(upload_id)
                if s is None:
                    s = await self._run(self._load_sync, upload_id)
                    self._sessions[upload_id] = s
        return s

    def _rehash_sync(self, s: _Session) -> None:
        """After a restart the running hash is gone (hashlib state cannot be saved): read the
        part file once up to the checkpoint. A hash that stopped short (another server
        appended meanwhile) goes on from where it stopped."""
        h, start = ((s.hasher, s.hashed) if s.hasher is not None and s.hashed <= s.written
                    else (hashlib.sha256(), 0))
        remaining = s.written - start
        with open(s.part, "rb") as f:
            f.seek(start)
            while remaining:
                block = f.read(min(READ_CHUNK, remaining))
                if not block:
                    raise OSError("upload part file shorter than its checkpoint")
                h.update(block)
                remaining -= len(block)
        s.hasher, s.hashed = h, s.written

    async def _ensure_hash(self, s: _Session) -> None:
        if s.hasher is None or s.hashed != s.written:
            await self._run(self._rehash_sync, s)

    def _save_sync(self, s: _Session) -> None:
        s.state.updated_at = _now()
        write_private(self.dir / f"{s.state.id}.json",
                      json.dumps(asdict(s.state), ensure_ascii=False).encode())

    def _remove_sync(self, upload_id: str) -> None:
        part, state_path = self._paths(upload_id)
        part.unlink(missing_ok=True)
        state_path.unlink(missing_ok=True)
        fsync_dir(self.dir)

    async def _discard(self, s: _Session) -> None:
        self._sessions.pop(s.state.id, None)
        await self._run(self._remove_sync, s.state.id)

    # -- the shared lock (several servers) ------------------------------------------------
    async def _hold(self, s: _Session, refused: type[EvidenceError]) -> None:
        """With several servers: take the upload's shared lock for this server (the caller
        holds ``s.lock``, so one request of this server at a time) and read the state its
        last holder left; ``refused`` (with the offset to resume from) while another server
        holds it."""
        if self.locks is None:
            return
        async with s.lease_ops:
            if not await self.locks.acquire(s.state.id, self.holder, self.options.lease_ttl_s):
                state = await self._run(self._read_state_sync, s.state.id)
                raise refused("This upload is receiving data through another server; ask "
                              "where it ends and resume from there.", offset=state.offset)
            s.leased, s.lost = True, False
        if s.renewing is None or s.renewing.done():
            s.renewing = asyncio.get_running_loop().create_task(
                self._renew(s), name=f"upload lock {s.state.id}")
        await s.settle()
        try:
            await self._run(self._refresh_sync, s)
        except UploadNotFound:  # given up through another server
            self._sessions.pop(s.state.id, None)
            raise

    async def _renew(self, s: _Session) -> None:
        ttl = self.options.lease_ttl_s
        valid_until = asyncio.get_running_loop().time() + ttl
        while s.leased:
            await asyncio.sleep(ttl / 3)
            async with s.lease_ops:
                if not s.leased:
                    return
                try:
                    kept = await self.locks.renew(s.state.id, self.holder, ttl)
                except Exception:  # the database is away: keep trying until it would lapse
                    kept = asyncio.get_running_loop().time() < valid_until - ttl / 3
                else:
                    valid_until = asyncio.get_running_loop().time() + ttl
                if not kept:
                    s.leased, s.lost = False, True
                    if s.writer is not None:
                        s.writer.cancel()
                    return

    async def _let_go(self, s: _Session) -> None:
        """After a request, before its answer (the phone's next request may reach another
        server at once): give the shared lock up once its last writes have landed, unless
        another request of this server took the upload meanwhile. A request cut short
        leaves it to a task the manager awaits at close."""
        if self.locks is not None and s.leased:
            await asyncio.shield(self._drains.start(self._release(s),
                                                    name=f"release {s.state.id}"))

    async def _release(self, s: _Session) -> None:
        await s.settle()
        async with s.lease_ops:
            if s.lock.locked() or not s.leased:
                return
            s.leased = False
            if s.renewing is not None:
                s.renewing.cancel()
                s.renewing = None
            await self.locks.release(s.state.id, self.holder)

    # -- protocol -------------------------------------------------------------------------
    async def create(self, *, filename: str | None = None, size: int | None = None,
                     sha256: str | None = None, content_type: str | None = None,
                     meta: dict[str, Any] | None = None) -> UploadStatus:
        """Start an upload. ``meta`` (submitter, role, connection, hearing...) must be JSON; it
        is kept as data and comes back in the receipt."""
        if size is not None:
            if not isinstance(size, int) or size < 0:
                raise UploadTooLarge("The declared size is not a byte count.", size=size)
            if size > self.options.max_bytes:
                raise UploadTooLarge(f"The file is larger than the {self.options.max_bytes} "
                                     f"bytes allowed.", max_bytes=self.options.max_bytes)
        if sha256 is not None:
            sha256 = sha256.strip().lower()
            if not _HEX64.match(sha256):
                raise HashMismatch("The declared SHA-256 is not 64 hexadecimal digits.")
        json.dumps(meta or {})  # refuse what could not be persisted, before anything is written
        now = _now()
        state = UploadState(id=secrets.token_urlsafe(18), created_at=now, updated_at=now,
                            filename=None if filename is None else str(filename)[:1024],
                            content_type=None if content_type is None else str(content_type)[:255],
                            size=size, sha256=sha256, meta=dict(meta or {}))
        part, _ = self._paths(state.id)
        s = _Session(state, part)
        s.hasher = hashlib.sha256()
        self._sessions[state.id] = s  # before the files exist, so expire() never sees orphans

        # bytes that uploads already under way have announced but not yet sent
        promised = sum(max(0, (o.state.size or 0) - o.written) for o in self._sessions.values()
                       if o.state.receipt is None and o is not s)

        def init() -> None:
            self._check_space((size or 0) + promised)
            with open(part, "xb") as f:
                os.fsync(f.fileno())
            self._save_sync(s)

        try:
            await self._run(init)
        except BaseException:
            self._sessions.pop(state.id, None)
            raise
        return self._status(s)

    async def status(self, upload_id: str) -> UploadStatus:
        """Where to resume: ``offset`` is the number of bytes the server holds durably (with
        several servers, as the state file on the shared folder says)."""
        s = await self._session(upload_id)
        if self.locks is not None and not s.leased:
            try:
                state = await self._run(self._read_state_sync, upload_id)
            except UploadNotFound:  # finished or given up through another server
                self._sessions.pop(upload_id, None)
                raise
            return self._status(_Session(state, s.part))
        return self._status(s)

    async def append(self, upload_id: str, offset: int, body: AsyncIterable[bytes]) -> UploadStatus:
        """Write ``body`` at ``offset`` (must equal the current offset). If the body breaks off,
        what arrived is kept, checkpointed, and the exception propagates; the client resumes
        from ``status().offset``."""
        s = await self._session(upload_id)
        if s.lock.locked():
            if not self.options.takeover or s.writer is None:
                raise UploadBusy("This upload is receiving data on another connection.",
                                 offset=s.state.offset)
            s.writer.cancel()  # newest request wins; the old one checkpoints and ends
            try:
                await asyncio.wait_for(s.lock.acquire(), self.options.takeover_wait_s)
            except TimeoutError:
                raise UploadBusy("This upload is receiving data on another connection.",
                                 offset=s.state.offset) from None
        else:
            await s.lock.acquire()
        s.writer = asyncio.current_task()
        try:
            await self._hold(s, OffsetMismatch)
            await s.settle()
            if s.state.receipt is not None or s.state.completing:
                raise OffsetMismatch("This upload is already complete.", offset=s.state.offset)
            if offset != s.state.offset:
                raise OffsetMismatch(f"Resume at byte {s.state.offset}, not {offset}.",
                                     offset=s.state.offset)
            await self._ensure_hash(s)
            await self._receive(s, body)
            return self._status(s)
        finally:
            s.writer = None
            s.lock.release()
            await self._let_go(s)

    async def _receive(self, s: _Session, body: AsyncIterable[bytes]) -> None:
        opts = self.options
        limit = s.state.size if s.state.size is not None else opts.max_bytes
        fd = await self._run(os.open, s.part, os.O_WRONLY)
        loop = asyncio.get_running_loop()
        pending: asyncio.Future[None] | None = None  # the buffer being written and hashed
        syncing: asyncio.Future[None] | None = None  # the checkpoint being fsynced
        since_checkpoint = 0

        def write(data: bytearray) -> None:
            if s.lost:
                raise LeaseLost("Another server took this upload over; ask where it ends "
                                "and resume from there.")
            view, pos = memoryview(data), s.written
            while view:
                n = os.pwrite(fd, view, pos)
                pos, view = pos + n, view[n:]
            s.hasher.update(data)
            s.written = s.hashed = pos

        def checkpoint(upto: int) -> None:
            """Runs beside the next writes: only bytes written before it started count."""
            os.fsync(fd)
            if upto > s.state.offset and not s.lost:
                s.state.offset = upto
                self._save_sync(s)
            self._check_space(0)

        buf = bytearray()
        received = s.written
        too_large = False
        try:
            async for chunk in body:
                if received + len(chunk) > limit:
                    buf += chunk[:limit - received]
                    too_large = True
                    break
                received += len(chunk)
                self.received_bytes += len(chunk)
                buf += chunk
                if len(buf) >= opts.buffer_bytes:
                    if pending is not None:
                        await pending
                    since_checkpoint += len(buf)
                    pending, buf = loop.run_in_executor(self.executor, write, buf), bytearray()
                    if since_checkpoint >= opts.checkpoint_bytes:
                        if syncing is not None:
                            await syncing  # at most one fsync in flight
                        await pending
                        pending, since_checkpoint = None, 0
                        syncing = loop.run_in_executor(self.executor, checkpoint, s.written)
        finally:
            # Keep everything that arrived, even when the connection broke or the task was
            # cancelled: finish the writes and record the offset before letting go.
            async def drain() -> None:
                try:
                    if pending is not None:
                        await pending
                    if buf:
                        await self._run(write, buf)
                    if syncing is not None:
                        try:
                            await syncing
                        except InsufficientStorage:
                            pass  # the final checkpoint below records the offset anyway
                    await self._run(checkpoint, s.written)
                finally:
                    await self._run(os.close, fd)
            s.draining = self._drains.start(drain(), name=f"drain {s.state.id}")
            await asyncio.shield(s.draining)
        if too_large:
            if s.state.size is None:
                await self._discard(s)
                raise UploadTooLarge(f"The file is larger than the {limit} bytes allowed; the "
                                     f"upload was discarded.", max_bytes=limit)
            raise UploadTooLarge(f"More bytes than the {limit} declared; the extra was not "
                                 f"kept.", offset=s.state.offset, size=limit)

    @property
    def open_sessions(self) -> int:
        """Uploads this process has touched that are not yet completed or cancelled."""
        return sum(1 for s in self._sessions.values() if s.state.receipt is None)

    async def complete(self, upload_id: str) -> Receipt:
        """Check, validate and commit. Idempotent: asking again (e.g. after a lost response)
        returns the same receipt. On a hash mismatch or a rejected file the upload is removed
        and the error says why; nothing half-made is ever left under a blob name."""
        s = await self._session(upload_id)
        if s.lock.locked():
            raise UploadBusy("This upload is still receiving data.", offset=s.state.offset)
        try:
            async with s.lock:
                return await self._complete(s, upload_id)
        finally:
            await self._let_go(s)

    async def _complete(self, s: _Session, upload_id: str) -> Receipt:
        await self._hold(s, UploadBusy)
        await s.settle()
        st = s.state
        if st.receipt is not None:
            return Receipt.from_json(st.receipt)
        if st.completing is None:
            if st.size is not None and st.offset != st.size:
                raise UploadIncomplete(f"Only {st.offset} of {st.size} bytes have arrived.",
                                       offset=st.offset, size=st.size)
            await self._ensure_hash(s)
            digest = s.hasher.hexdigest()
            if st.sha256 and digest != st.sha256:
                await self._discard(s)
                raise HashMismatch("The file received does not match the SHA-256 declared "
                                   "for it; it was discarded, please send it again.",
                                   declared=st.sha256, received=digest, size=st.offset)
            media = await self._validate(s, s.part, digest)
            st.completing = digest
            already = await self._run(self.store.exists, digest)
            await self._run(self._save_sync, s)
            ref = await self._run(self.store.commit_temp, s.part, digest)
        else:  # a crash interrupted the commit: finish it from what is stored
            digest = st.completing
            if s.part.exists():
                already = await self._run(self.store.exists, digest)
                ref = await self._run(self.store.commit_temp, s.part, digest)
            elif await self._run(self.store.exists, digest):
                already, ref = False, None
            else:
                await self._discard(s)
                raise UploadNotFound("The upload was lost in a server failure; please send "
                                     "it again.", upload_id=upload_id)
            path = ref.path if ref else self.store.path_for(digest)
            media = await self._validate(s, path, digest)
        size = (ref.size if ref else (await self._run(os.stat, self.store.path_for(digest))).st_size)
        receipt = Receipt(upload_id=st.id, sha256=digest, size=size, received_at=_now(),
                          started_at=st.created_at, filename=st.filename,
                          content_type=st.content_type, meta=dict(st.meta), media=media,
                          already_stored=already)
        st.receipt = receipt.to_json()
        await self._run(self._save_sync, s)
        return receipt

    async def _validate(self, s: _Session, path: Path, digest: str) -> MediaInfo | None:
        if not self.options.validate:
            return None
        try:
            async with self._parsing:
                return await validate_sandboxed(path, self.options.limits, self.options.sandbox)
        except EvidenceRejected as e:
            if path == s.part:
                await self._discard(s)
            raise EvidenceRejected(e.message, **e.details, sha256=digest,
                                   size=s.state.offset) from None

    async def cancel(self, upload_id: str) -> None:
        """Drop an unfinished upload (the submitter gave up). Completed ones only lose their
        idempotency record; the blob stays."""
        s = await self._session(upload_id)
        try:
            async with s.lock:
                await self._hold(s, UploadBusy)
                await s.settle()
                await self._discard(s)
        finally:
            await self._let_go(s)

    # -- housekeeping ---------------------------------------------------------------------
    async def close(self) -> None:
        """At shutdown: let the last writes of interrupted requests land and checkpoint."""
        await self._drains.wait()
        await self._drains.close()

    def recover(self) -> list[UploadStatus]:
        """On server start (blocking; before serving): load every upload, cut data files back
        to their checkpoints, and delete files that belong to no upload. With several servers
        the others may be writing right now: nothing is touched here, an upload is cut back
        when a server next takes its lock."""
        if self.locks is not None:
            return []
        out = []
        for tmp in self.dir.glob("*.tmp"):  # a state file's write cut short
            tmp.unlink(missing_ok=True)
        states = {p.stem for p in self.dir.glob("*.json")}
        for part in self.dir.glob("*.part"):
            if part.stem not in states:
                part.unlink(missing_ok=True)
        for upload_id in sorted(states):
            try:
                s = self._sessions.get(upload_id) or self._load_sync(upload_id)
            except (UploadNotFound, ValueError, TypeError, OSError, json.JSONDecodeError):
                for p in self._paths(upload_id) if _ID.match(upload_id) else ():
                    p.unlink(missing_ok=True)
                continue
            self._sessions[upload_id] = s
            out.append(self._status(s))
        fsync_dir(self.dir)
        return out

    async def expire(self, older_than_s: float | None = None) -> list[str]:
        """Remove uploads idle longer than ``older_than_s`` (default options.expire_after_s),
        finished or not (a finished one only loses its idempotency record). Returns their ids."""
        limit = self.options.expire_after_s if older_than_s is None else older_than_s
        now = datetime.now(timezone.utc)
        ids = await self._run(lambda: sorted(p.stem for p in self.dir.glob("*.json")))
        gone = []
        for upload_id in ids:
            try:
                s = await self._session(upload_id)
            except (UploadNotFound, ValueError, TypeError, OSError):
                continue
            if s.lock.locked():
                continue
            try:
                async with s.lock:
                    await self._hold(s, UploadBusy)
                    idle = (now - datetime.fromisoformat(s.state.updated_at)).total_seconds()
                    if idle >= limit:
                        await self._discard(s)
                        gone.append(upload_id)
            except UploadBusy:
                continue  # another server is working on it: not idle
            finally:
                await self._let_go(s)
        return gone
