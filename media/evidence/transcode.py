"""Playback copies of evidence, made in the background: a web-playable derivative (H.264/AAC
MP4 with the index up front for video; Opus/WebM or AAC/M4A for sound) and a JPEG thumbnail
(for photos, a JPEG display copy instead). Each output is a new blob whose recipe names the
original; the original is only ever read.

Each job runs in a confined child process (``sandbox``: memory, CPU time, file size and
wall-clock limits, no network), which decodes the original and writes the copies into a
temporary folder of the store; the server only commits the files it names. Jobs run one at a
time, each watched by its own thread (a transcode uses both cores of a small server),
taken in turn from each group's queue (a group is a hearing: one hearing's twenty videos do
not hold back another's one). A job may carry its own options: the preview a judge watches
before deciding (``PREVIEW_OPTIONS``) is a small copy of the first two minutes only. Each group's queue is bounded: when it is full ``submit`` raises
QueueFull, and since the original is already stored nothing is lost; the job can be submitted
again later. A job whose decoding would cost more than the budget (pixels x frames, duration)
fails at once with the reason, before any CPU is spent on it."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av

from ..blobstore import BlobStore
from .errors import QueueFull, TranscodeFailed
from .probe import MediaInfo, open_container
from .sandbox import SandboxFailed, SandboxLimits, run_sandboxed_sync
from .validate import ValidationLimits, validate_file


@dataclass(frozen=True)
class TranscodeOptions:
    max_width: int = 1280  # 720p is enough to see an incident and small enough for a phone
    max_height: int = 720
    max_fps: int = 30
    crf: int = 23  # x264 quality; lower is better and larger
    preset: str = "veryfast"
    video_audio_bitrate: int = 128_000  # AAC in the MP4
    audio_container: str = "webm"  # sound-only evidence: "webm" (Opus) or "m4a" (AAC)
    audio_bitrate: int = 64_000  # Opus carries speech well at this rate
    thumbnail_width: int = 320
    thumbnail_at_s: float = 1.0  # capped to 10 % of the duration for short clips
    display_max_side: int = 2048  # photos: size of the JPEG display copy
    threads: int = 2
    queue_size: int = 16  # jobs waiting per group; submit() refuses more
    # The budget of one copy: pixels decoded (width x height x frames; 1.5 x a 30-minute
    # 1080p30 phone video) and seconds of media. 4K for a day costs a hundred times more.
    max_pixels: int = int(1920 * 1080 * 30 * 1800 * 1.5)
    max_duration_s: float = 4 * 3600.0
    # the child that makes a copy: a 4K decoder and x264 fit in 2 GiB; a copy within the
    # budget takes well under the CPU and wall-clock limits
    sandbox: SandboxLimits = SandboxLimits(memory_bytes=2 << 30, cpu_s=4 * 3600,
                                           wall_s=6 * 3600.0, file_bytes=4 << 30)
    progress_interval_s: float = 0.25  # least time between two progress reports
    limit_s: float | None = None  # copy only the first this many seconds (None: all of it)
    thumbnail: bool = True  # also make the small picture


#: The copy a judge watches before deciding on the item: its first two minutes, small and
#: quick to make, so an item the court has not admitted costs little processing.
PREVIEW_OPTIONS = TranscodeOptions(max_width=640, max_height=360, max_fps=25, crf=30,
                                   video_audio_bitrate=64_000, audio_bitrate=32_000,
                                   display_max_side=1280, limit_s=120.0, thumbnail=False)


JobState = Literal["queued", "running", "done", "failed", "cancelled"]
#: A web-playable copy of sound or video, a small picture, or a photo's JPEG display copy.
Role = Literal["playback", "thumbnail", "display"]


@dataclass(frozen=True)
class Derivative:
    """A derived blob linked to its original (store ``source_sha256`` -> ``sha256``)."""
    role: Role
    sha256: str
    size: int
    mime: str
    source_sha256: str
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    recipe: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _Cancelled(Exception):
    pass


def over_budget(info: MediaInfo, opts: TranscodeOptions) -> str | None:
    """Why a playback copy of ``info`` would cost more than ``opts`` allow, or None. Every
    source frame is decoded whatever the output rate, so the source's rate counts."""
    if info.kind == "image":
        return None
    duration = info.duration_s or 0.0
    if opts.limit_s is not None:  # the rest of the file is never decoded
        duration = min(duration, opts.limit_s)
    if duration > opts.max_duration_s:
        return (f"No playback copy: the file lasts {duration / 3600:.1f} hours, more than the "
                f"{opts.max_duration_s / 3600:g} a copy is made for; the original can be "
                f"downloaded.")
    for st in info.streams:
        if st.type == "video" and not st.cover_art and st.width and st.height:
            frames = duration * (st.fps or 30.0)
            if st.width * st.height * frames > opts.max_pixels:
                return (f"No playback copy: {st.width}x{st.height} at {st.fps or 30:g} frames "
                        f"a second for {duration / 60:.0f} minutes would cost more processing "
                        f"than a copy is made for; the original can be downloaded.")
    return None


def _fit(w: int, h: int, max_w: int, max_h: int) -> tuple[int, int]:
    scale = min(1.0, max_w / w, max_h / h)
    return max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2)


def _rotation_filters(rotation: float) -> list[tuple[str, str]]:
    """FFmpeg's autorotate: the display matrix angle is counter-clockwise."""
    r = int(round(rotation)) % 360
    return {90: [("transpose", "cclock")], 270: [("transpose", "clock")],
            180: [("hflip", ""), ("vflip", "")]}.get(r, [])


class _VideoGraph:
    """decoded frame -> rotate -> scale -> (fps) -> yuv420p, built on the first frame."""

    def __init__(self, template: av.VideoFrame, stream: av.stream.Stream, size: tuple[int, int],
                 fps: Fraction | None, pix_fmt: str = "yuv420p") -> None:
        self.graph = av.filter.Graph()
        src = self.graph.add_buffer(template=stream)
        chain = [src]
        for name, arg in _rotation_filters(template.rotation or 0):
            chain.append(self.graph.add(name, arg))
        chain.append(self.graph.add("scale", f"{size[0]}:{size[1]}"))
        if fps is not None:
            chain.append(self.graph.add("fps", str(fps)))
        chain.append(self.graph.add("format", pix_fmt))
        chain.append(self.graph.add("buffersink"))
        for a, b in itertools.pairwise(chain):
            a.link_to(b)
        self.graph.configure()

    def push(self, frame: av.VideoFrame | None) -> list[av.VideoFrame]:
        self.graph.vpush(frame)
        out = []
        while True:
            try:
                out.append(self.graph.vpull())
            except (av.error.BlockingIOError, av.error.EOFError):
                return out


def _display_size(w: int, h: int, rotation: float) -> tuple[int, int]:
    return (h, w) if int(round(rotation)) % 180 == 90 else (w, h)


def _first_video(c: av.container.InputContainer) -> av.stream.Stream | None:
    for s in c.streams.video:
        if not (s.disposition & av.stream.Disposition.attached_pic):
            return s
    return None


def _jpeg(frame: av.VideoFrame, quality: int = 4) -> bytes:
    ctx = av.CodecContext.create("mjpeg", "w")
    ctx.width, ctx.height = frame.width, frame.height
    ctx.pix_fmt = "yuvj420p"
    ctx.time_base = Fraction(1, 25)
    ctx.flags |= av.codec.context.Flags.qscale
    ctx.global_quality = quality * 118  # FF_QP2LAMBDA
    frame = frame.reformat(format="yuvj420p")
    frame.pts = 0
    return b"".join(bytes(p) for p in ctx.encode(frame) + ctx.encode(None))


def _still(src: Path, at_s: float, max_w: int, max_h: int) -> tuple[bytes, int, int]:
    """One picture from ``at_s`` seconds into the file, upright and scaled to fit."""
    with open_container(src) as c:
        vin = _first_video(c) or (c.streams.video[0] if c.streams.video else None)
        if vin is None:
            raise TranscodeFailed("no picture to make a thumbnail from")
        if at_s > 0 and vin.time_base:
            try:
                c.seek(int(at_s / vin.time_base), stream=vin, backward=True)
            except av.error.FFmpegError:
                c.seek(0)
        best = None
        for frame in c.decode(vin):
            best = frame
            if frame.time is None or frame.time >= at_s - 1e-3:
                break
        if best is None:
            raise TranscodeFailed("no picture could be decoded for the thumbnail")
        w, h = _display_size(best.width, best.height, best.rotation or 0)
        size = _fit(w, h, max_w, max_h)
        graph = _VideoGraph(best, vin, size, None, "yuvj420p")
        out = graph.push(best)
        pic = out[0] if out else graph.push(None)[0]
        return _jpeg(pic), pic.width, pic.height


def _first_frame(src: Path) -> av.VideoFrame | None:
    """The first picture, decoded: its size and display rotation set up the output before
    anything is muxed (the container header cannot gain a stream later)."""
    with open_container(src) as c:
        vin = _first_video(c)
        if vin is None:
            return None
        for frame in c.decode(vin):
            return frame
    return None


def _playback(src: Path, dst: Path, info: MediaInfo, opts: TranscodeOptions,
              report: Callable[[float], None], cancelled: threading.Event) -> dict[str, Any]:
    duration = info.duration_s or 0.0
    if opts.limit_s is not None:
        duration = min(duration, opts.limit_s)
    first = _first_frame(src) if info.kind == "video" else None
    with open_container(src) as c:
        vin = _first_video(c) if first is not None else None
        ain = c.streams.audio[0] if c.streams.audio else None
        if vin is None and ain is None:
            raise TranscodeFailed("nothing to play back")
        if vin is not None:
            fmt, mime, out_opts = "mp4", "video/mp4", {"movflags": "+faststart"}
            acodec, abr = "aac", opts.video_audio_bitrate
        elif opts.audio_container == "m4a":
            fmt, mime, out_opts = "ipod", "audio/mp4", {"movflags": "+faststart"}
            acodec, abr = "aac", opts.video_audio_bitrate
        else:
            fmt, mime, out_opts = "webm", "audio/webm", {}
            acodec, abr = "libopus", opts.audio_bitrate
        recipe: dict[str, Any] = {"container": fmt, "mime": mime, "pyav": av.__version__,
                                  "libavcodec": ".".join(map(str, av.library_versions["libavcodec"]))}
        with av.open(str(dst), "w", format=fmt, options=out_opts) as out:
            vout = aout = None
            graph = None
            streams = []
            if vin is not None:
                vin.thread_type = "AUTO"
                rate = vin.average_rate or vin.guessed_rate or Fraction(25)
                fps = None
                if rate > opts.max_fps:
                    rate = fps = Fraction(opts.max_fps)
                rotation = first.rotation or 0
                w, h = _display_size(first.width, first.height, rotation)
                size = _fit(w, h, opts.max_width, opts.max_height)
                vout = out.add_stream("libx264", rate=rate)
                vout.width, vout.height, vout.pix_fmt = size[0], size[1], "yuv420p"
                vout.codec_context.time_base = vin.time_base if fps is None else 1 / fps
                vout.options = {"crf": str(opts.crf), "preset": opts.preset,
                                "threads": str(opts.threads)}
                recipe["video"] = {"codec": "h264", "crf": opts.crf, "preset": opts.preset,
                                   "width": size[0], "height": size[1],
                                   "fps_limit": opts.max_fps, "rotation_applied": rotation}
                streams.append(vin)
            if ain is not None:
                channels = min(2, ain.codec_context.channels or 1)
                aout = out.add_stream(acodec, rate=48_000)
                aout.layout = "stereo" if channels == 2 else "mono"
                aout.bit_rate = abr
                streams.append(ain)
                recipe["audio"] = {"codec": acodec, "bit_rate": abr, "rate": 48_000,
                                   "layout": aout.layout.name}
            if opts.limit_s is not None:
                recipe["limit_s"] = opts.limit_s
            done = 0.0
            last_report = 0.0
            for packet in c.demux(streams):
                if cancelled.is_set():
                    raise _Cancelled()
                for frame in packet.decode():
                    if packet.stream is vin:
                        if graph is None:
                            graph = _VideoGraph(frame, vin, size, fps)
                        for f in graph.push(frame):
                            f.pict_type = av.video.frame.PictureType.NONE
                            out.mux(vout.encode(f))
                    elif aout is not None:
                        out.mux(aout.encode(frame))
                    if frame.time is not None:
                        done = max(done, frame.time)
                if opts.limit_s is not None and done >= opts.limit_s:
                    break
                now = time.monotonic()
                if duration and now - last_report >= opts.progress_interval_s:
                    report(min(0.99, done / duration))
                    last_report = now
            if graph is not None:
                for f in graph.push(None):
                    out.mux(vout.encode(f))
                out.mux(vout.encode())
            if aout is not None:
                out.mux(aout.encode())
        return recipe


class TranscodeJob:
    """One original's derivatives. ``progress`` runs 0..1; ``state`` is queued, running, done,
    failed or cancelled; ``await job.wait()`` gives the derivatives or raises TranscodeFailed."""

    _ids = itertools.count(1)

    def __init__(self, source_sha256: str, info: MediaInfo | None,
                 options: TranscodeOptions = TranscodeOptions()) -> None:
        self.id = f"tj{next(self._ids)}"
        self.source_sha256 = source_sha256
        self.info = info
        self.options = options
        self.state: JobState = "queued"
        self.progress = 0.0
        self.error: str | None = None
        self.derivatives: list[Derivative] = []
        self._cancel = threading.Event()
        self._future: asyncio.Future[list[Derivative]] | None = None
        self._on_progress: Callable[[TranscodeJob], None] | None = None
        self._proc: subprocess.Popen[bytes] | None = None  # the child making the copies

    def cancel(self) -> None:
        self._cancel.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()

    async def wait(self) -> list[Derivative]:
        assert self._future is not None
        try:
            return await asyncio.shield(self._future)
        except _Cancelled:
            raise TranscodeFailed("The job was cancelled.", cancelled=True) from None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "source_sha256": self.source_sha256, "state": self.state,
                "progress": round(self.progress, 3), "error": self.error,
                "derivatives": [d.to_json() for d in self.derivatives]}


class Transcoder:
    def __init__(self, store: BlobStore, options: TranscodeOptions = TranscodeOptions()) -> None:
        self.store = store
        self.options = options
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence-transcode")
        self._jobs: dict[str, TranscodeJob] = {}
        #: queued or running, by source hash and options
        self._active: dict[tuple[str, TranscodeOptions], TranscodeJob] = {}
        self._waiting: OrderedDict[Hashable, deque[TranscodeJob]] = OrderedDict()  # in turn
        self._running: TranscodeJob | None = None
        self._last: Hashable = None  # the group served last
        self._closed = False

    @property
    def queued(self) -> int:
        """Jobs waiting for their turn (the running one not counted)."""
        return sum(len(q) for q in self._waiting.values())

    @property
    def running(self) -> int:
        return int(self._running is not None)

    def submit(self, source_sha256: str, info: MediaInfo | None = None,
               on_progress: Callable[[TranscodeJob], None] | None = None,
               group: Hashable = None,
               options: TranscodeOptions | None = None) -> TranscodeJob:
        """Queue the derivatives of a stored original in ``group``'s queue, made with
        ``options`` (the transcoder's own by default). A job already queued or running for the
        same original and options is returned instead of a second one.
        ``on_progress`` is called on the event loop (at most about four times a second) and
        once at the end. A job over the budget is returned already failed."""
        options = options or self.options
        key = (source_sha256, options)
        if key in self._active:
            return self._active[key]
        queue = self._waiting.get(group)
        if queue is not None and len(queue) >= self.options.queue_size:
            raise QueueFull("The server is busy making playback copies; try again later.",
                            queued=len(queue))
        loop = asyncio.get_running_loop()
        job = TranscodeJob(source_sha256, info, options)
        job._future = loop.create_future()
        job._future.add_done_callback(lambda _: None if job._future.cancelled()
                                      else job._future.exception())  # seen by on_progress
        job._on_progress = on_progress
        self._jobs[job.id] = job
        refusal = over_budget(info, options) if info is not None else None
        if refusal is not None:
            job.state, job.error = "failed", refusal
            job._future.set_exception(TranscodeFailed(refusal, kind="over_budget"))
            loop.call_soon(self._notify, job)
            return job
        self._active[key] = job
        self._waiting.setdefault(group, deque()).append(job)
        self._next()
        return job

    @staticmethod
    def _notify(job: TranscodeJob) -> None:
        if job._on_progress is not None:
            job._on_progress(job)

    def _next(self) -> None:
        """Start the next job if none runs: the first of the group whose turn it is; the
        group served last goes to the back of the round."""
        if self._running is not None or not self._waiting or self._closed:
            return
        if self._last in self._waiting:  # groups that queued while it ran go first
            self._waiting.move_to_end(self._last)
        group, queue = next(iter(self._waiting.items()))
        job = queue.popleft()
        if not queue:
            del self._waiting[group]
        self._running, self._last = job, group
        loop = asyncio.get_running_loop()
        path = self.store.path_for(job.source_sha256)

        def report(p: float) -> None:
            job.progress = p
            loop.call_soon_threadsafe(self._notify, job)

        def work() -> list[Derivative]:
            job.state = "running"
            loop.call_soon_threadsafe(self._notify, job)
            return self._make(path, job, report)

        def finished(fut: asyncio.Future[list[Derivative]]) -> None:
            self._running = None
            self._active.pop((job.source_sha256, job.options), None)
            if fut.cancelled() or isinstance(fut.exception(), _Cancelled):
                job.state = "cancelled"
                job._future.set_exception(_Cancelled())
            elif fut.exception() is not None:
                job.state, job.error = "failed", str(fut.exception())
                job._future.set_exception(fut.exception())
            else:
                job.state, job.progress, job.derivatives = "done", 1.0, fut.result()
                job._future.set_result(fut.result())
            self._notify(job)
            self._next()

        loop.run_in_executor(self._pool, work).add_done_callback(finished)

    def job(self, job_id: str) -> TranscodeJob | None:
        return self._jobs.get(job_id)

    def _make(self, src: Path, job: TranscodeJob,
              report: Callable[[float], None]) -> list[Derivative]:
        """In the worker thread: the copies made by a confined child, committed here."""
        opts = job.options
        sha = job.source_sha256

        def run(target: str, args: list[Any], limits: SandboxLimits) -> Any:
            try:
                answer = run_sandboxed_sync(
                    target, args, limits, on_message=lambda m: report(float(m["progress"])),
                    on_start=lambda proc: setattr(job, "_proc", proc))
            except SandboxFailed as e:
                if job._cancel.is_set():
                    raise _Cancelled() from None
                raise TranscodeFailed(f"Could not make a playback copy: {e.message}") from None
            finally:
                job._proc = None
            if job._cancel.is_set():
                raise _Cancelled()
            if not answer["ok"]:
                raise TranscodeFailed(answer["message"])
            return answer["result"]

        info = job.info or MediaInfo.from_json(run(
            "media.evidence.sandbox:_validate", [str(src), asdict(ValidationLimits())],
            SandboxLimits()))
        workdir = Path(tempfile.mkdtemp(dir=self.store.tmp, prefix="copies-"))
        try:
            options = {k: v for k, v in asdict(opts).items() if k != "sandbox"}
            made = run("media.evidence.transcode:_copies",
                       [str(src), str(workdir), info.to_json(), options], opts.sandbox)
            out = []
            for d in made:
                path = Path(d.pop("path"))
                if path.parent != workdir:
                    raise TranscodeFailed("Could not make a playback copy: unexpected output.")
                ref = self.store.commit_temp(path)
                out.append(Derivative(sha256=ref.sha256, size=ref.size, source_sha256=sha, **d))
            return out
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    async def close(self) -> None:
        self._closed = True
        for job in list(self._active.values()):
            job.cancel()
        for queue in self._waiting.values():
            for job in queue:
                job.state = "cancelled"
                job._future.set_exception(_Cancelled())
                self._notify(job)
        self._waiting.clear()
        await asyncio.get_running_loop().run_in_executor(None, self._pool.shutdown, True)


def _copies(src: str, workdir: str, info: dict[str, Any], options: dict[str, Any],
            ) -> list[dict[str, Any]]:
    """In the sandbox child: the copies of ``src`` written into ``workdir``, described for the
    parent (which commits them); progress goes out as lines before the answer."""
    opts = TranscodeOptions(**options)
    media = MediaInfo.from_json(info)
    source, folder = Path(src), Path(workdir)

    def report(p: float) -> None:
        sys.stdout.write(json.dumps({"progress": p}) + "\n")
        sys.stdout.flush()

    def jpeg(name: str, data: bytes) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    try:
        if media.kind == "image":
            data, w, h = _still(source, 0.0, opts.display_max_side, opts.display_max_side)
            display = dict(role="display", path=str(jpeg("display.jpg", data)),
                           mime="image/jpeg", width=w, height=h, duration_s=None,
                           recipe={"codec": "mjpeg", "max_side": opts.display_max_side})
            if not opts.thumbnail:
                return [display]
            data, w, h = _still(source, 0.0, opts.thumbnail_width, opts.thumbnail_width)
            return [display, dict(role="thumbnail", path=str(jpeg("thumbnail.jpg", data)),
                                  mime="image/jpeg", width=w, height=h, duration_s=None,
                                  recipe={"codec": "mjpeg", "width": opts.thumbnail_width})]
        playback = folder / "playback"
        recipe = _playback(source, playback, media, opts, report, threading.Event())
        probe = validate_file(playback)  # the copy must itself be whole and playable
        out = [dict(role="playback", path=str(playback), mime=recipe["mime"],
                    width=probe.width, height=probe.height, duration_s=probe.duration_s,
                    recipe=recipe)]
        if media.kind == "video" and opts.thumbnail:
            at = min(opts.thumbnail_at_s, (media.duration_s or 0) * 0.1)
            data, w, h = _still(source, at, opts.thumbnail_width, opts.thumbnail_width * 4)
            out.append(dict(role="thumbnail", path=str(jpeg("thumbnail.jpg", data)),
                            mime="image/jpeg", width=w, height=h, duration_s=None,
                            recipe={"codec": "mjpeg", "at_s": at,
                                    "width": opts.thumbnail_width}))
        return out
    except (av.error.FFmpegError, ValueError, OSError) as e:
        raise TranscodeFailed(f"Could not make a playback copy: {e}") from e
