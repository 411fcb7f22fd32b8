"""Blocking readers, one per device kind, used only from a capture thread.

Every reader delivers float32 ``(channels, samples)`` blocks at the device's own rate, so the
capture pipeline (meters, resampling, bleed gate) is the same whatever the device is. A device
that fails raises DeviceError; the capture decides about retries."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import av
import numpy as np

from hardware.device_url import DeviceSpec, DeviceUrlError
from hardware.rtp import RtpError, RtpFormat, RtpReceiver, load_sdp, open_receiver


class DeviceError(RuntimeError):
    """The device cannot be opened or stopped delivering audio (unplugged, network gone)."""


def ensure_alsa_config() -> None:
    """PyAV's wheel carries its own alsa-lib, which looks for its configuration under a build
    path that does not exist; point it at the system's so ALSA devices open."""
    if "ALSA_CONFIG_PATH" not in os.environ and os.path.exists("/usr/share/alsa/alsa.conf"):
        os.environ["ALSA_CONFIG_PATH"] = "/usr/share/alsa/alsa.conf"


@dataclass
class Block:
    samples: np.ndarray  # float32 (channels, n) at the device rate
    continuous: bool = True  # False: does not follow the previous block in time (a gap)


class Reader(ABC):
    channels: int = 0
    rate: int = 0
    live: bool = True  # False for a replay: its time is the file's, not the wall clock's
    timestamped: bool = False  # the device's own timestamps say where gaps are (RTP)

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def read(self) -> Block | None:
        """The next block (possibly empty after a quiet timeout); None when a replay ended."""

    @abstractmethod
    def close(self) -> None: ...


_SCALE = {np.dtype(np.int16): 1 / 32768.0, np.dtype(np.int32): 1 / 2147483648.0,
          np.dtype(np.uint8): 1 / 128.0, np.dtype(np.int64): 1 / 9223372036854775808.0}


def frame_to_float(frame: av.AudioFrame) -> np.ndarray:
    """Any decoded PCM frame -> float32 (channels, n)."""
    a = frame.to_ndarray()
    ch = frame.layout.nb_channels
    if not frame.format.is_planar:
        a = a.reshape(-1, ch).T
    if a.dtype == np.uint8:
        return (a.astype(np.float32) - 128.0) * (1 / 128.0)
    if a.dtype in _SCALE:
        return a.astype(np.float32) * np.float32(_SCALE[a.dtype])
    return np.ascontiguousarray(a, dtype=np.float32)


class PyAVReader(Reader):
    """ALSA, PulseAudio/PipeWire and lavfi through libavdevice, and files through libavformat."""

    def __init__(self, target: str, fmt: str | None, options: dict[str, str] | None = None,
                 read_timeout_s: float = 2.0, open_timeout_s: float = 5.0) -> None:
        self.target, self.fmt, self.options = target, fmt, dict(options or {})
        self.timeouts = (open_timeout_s, read_timeout_s)
        self.container = None
        self._frames = None

    def open(self) -> None:
        if self.fmt == "alsa":
            ensure_alsa_config()
        try:
            self.container = av.open(self.target, format=self.fmt, options=self.options,
                                     timeout=self.timeouts)
            if not self.container.streams.audio:
                raise DeviceError(f"{self.target}: no audio stream")
            stream = self.container.streams.audio[0]
            self.rate = stream.codec_context.sample_rate
            self.channels = stream.codec_context.channels
            self._frames = self.container.decode(stream)
        except DeviceError:
            self.close()
            raise
        except (av.FFmpegError, OSError, ValueError) as e:
            self.close()
            raise DeviceError(f"cannot open {self.fmt or 'file'} {self.target}: {e}") from e

    def _next_frame(self) -> np.ndarray | None:
        try:
            frame = next(self._frames)
        except StopIteration:
            return None
        except (av.FFmpegError, OSError) as e:
            raise DeviceError(f"{self.target}: {e}") from e
        if frame.sample_rate != self.rate or frame.layout.nb_channels != self.channels:
            raise DeviceError(f"{self.target}: format changed mid-stream "
                              f"({frame.layout.nb_channels} ch {frame.sample_rate} Hz)")
        return frame_to_float(frame)

    def read(self) -> Block | None:
        if self._frames is None:
            raise DeviceError(f"{self.target}: not open")
        a = self._next_frame()
        if a is None:
            if self.live:
                raise DeviceError(f"{self.target}: the device stopped delivering audio")
            return None
        return Block(a)

    def close(self) -> None:
        if self.container is not None:
            try:
                self.container.close()
            except Exception:  # closing a broken device must not hide the first error
                pass
        self.container, self._frames = None, None


class Pacer:
    """Holds a generated or replayed source to the wall clock: ``speed`` 1 is real time (what
    a live interface does), >1 faster, 0 unpaced. Without it a source that computes its
    samples delivers them as fast as the CPU allows, hours of "audio" a minute."""

    def __init__(self, speed: float) -> None:
        if speed < 0:
            raise DeviceUrlError(f"speed={speed}: must be >= 0")
        self.speed = speed
        self.start()

    def start(self) -> None:
        self._t0, self._pos = time.monotonic(), 0

    def wait(self, samples: int, rate: int) -> None:
        """Count ``samples`` as delivered; sleep until the clock has caught up with them."""
        self._pos += samples
        if self.speed > 0:
            ahead = self._t0 + self._pos / rate / self.speed - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)


class GeneratedReader(PyAVReader):
    """A libavfilter source (``lavfi:sine=...``) paced like the live device it stands in for."""

    def __init__(self, graph: str, speed: float = 1.0) -> None:
        super().__init__(graph, "lavfi")
        self.pacer = Pacer(speed)

    def open(self) -> None:
        super().open()
        self.pacer.start()

    def read(self) -> Block | None:
        block = super().read()
        if block is not None:
            self.pacer.wait(block.samples.shape[1], self.rate)
        return block


class FileReplayReader(PyAVReader):
    """A multi-channel WAV/FLAC played as if it were the courtroom's interface.

    ``speed`` 1 keeps real-time pace (what a live interface does), >1 is faster, 0 unpaced.
    A FIFO or character device is treated as live: its end is a lost device, not a replay's
    end, which is how tests unplug a device in the middle of a hearing."""

    def __init__(self, path: str, speed: float = 1.0, fmt: str | None = None,
                 block_ms: int = 100) -> None:
        super().__init__(path, fmt)
        self.pacer = Pacer(speed)
        self.block_ms = block_ms
        self._pending: list[np.ndarray] = []

    def open(self) -> None:
        try:
            mode = os.stat(self.target).st_mode
        except FileNotFoundError:
            raise DeviceError(f"no such file: {self.target}") from None
        self.live = stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)
        super().open()
        self.pacer.start()
        self._pending = []

    def read(self) -> Block | None:
        want = self.rate * self.block_ms // 1000
        have = sum(p.shape[1] for p in self._pending)
        while have < want:
            a = self._next_frame()
            if a is None:
                break
            self._pending.append(a)
            have += a.shape[1]
        if have == 0:
            if self.live:
                raise DeviceError(f"{self.target}: the writer went away")
            return None
        block = np.concatenate(self._pending, axis=1) if len(self._pending) > 1 else self._pending[0]
        out, rest = block[:, :want], block[:, want:]
        self._pending = [rest] if rest.shape[1] else []
        if not self.live:  # a FIFO's writer sets its own pace
            self.pacer.wait(out.shape[1], self.rate)
        return Block(out)


class PipeReader(Reader):
    """Raw float32 little-endian interleaved PCM from a capture program's stdout.

    PulseAudio and PipeWire are reached this way when the PyAV build has no ``pulse`` input:
    their own recorders (``parec``, ``pw-record``) run as a child process; its exit is a lost
    device like an unplugged interface."""

    def __init__(self, argv: list[str], channels: int, rate: int, block_ms: int = 100) -> None:
        self.argv, self.channels, self.rate, self.block_ms = argv, channels, rate, block_ms
        self.proc: subprocess.Popen | None = None

    def open(self) -> None:
        try:
            self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        except OSError as e:
            raise DeviceError(f"cannot start {self.argv[0]}: {e}") from e

    def read(self) -> Block | None:
        if self.proc is None or self.proc.stdout is None:
            raise DeviceError(f"{self.argv[0]}: not open")
        want = self.rate * self.block_ms // 1000 * self.channels * 4
        data = self.proc.stdout.read(want)
        frame = self.channels * 4
        if len(data) < frame:
            err = b""
            if self.proc.poll() is not None and self.proc.stderr is not None:
                err = self.proc.stderr.read(500)
            raise DeviceError(f"{self.argv[0]} stopped delivering audio"
                              + (f": {err.decode(errors='replace').strip()}" if err else ""))
        data = data[:len(data) // frame * frame]
        return Block(np.frombuffer(data, "<f4").reshape(-1, self.channels).T.copy())

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
            self.proc = None


def pulse_recorder_argv(source: str, channels: int, rate: int) -> list[str] | None:
    """The command that records a PulseAudio/PipeWire source as raw float32, if one exists."""
    if shutil.which("parec"):
        argv = ["parec", "--raw", "--format=float32le", f"--rate={rate}", f"--channels={channels}",
                "--latency-msec=20"]
        return argv + ([f"--device={source}"] if source != "default" else [])
    if shutil.which("pw-record"):
        argv = ["pw-record", "--format", "f32", "--rate", str(rate), "--channels", str(channels)]
        return argv + (["--target", source] if source != "default" else []) + ["-"]
    return None


class RtpReader(Reader):
    def __init__(self, address: str, port: int, fmt: RtpFormat, block_ms: int = 100,
                 quiet_timeout_s: float = 0.25) -> None:
        self.address, self.port, self.fmt = address, port, fmt
        self.channels, self.rate = fmt.channels, fmt.rate
        self.block_ms, self.quiet_timeout_s = block_ms, quiet_timeout_s
        self.timestamped = True
        self.receiver: RtpReceiver | None = None

    def open(self) -> None:
        try:
            sock = open_receiver(self.address, self.port, self.quiet_timeout_s)
        except OSError as e:
            raise DeviceError(f"cannot listen for RTP on {self.address}:{self.port}: {e}") from e
        self.receiver = RtpReceiver(sock, self.fmt)

    def read(self) -> Block | None:
        if self.receiver is None:
            raise DeviceError("RTP receiver not open")
        want = self.rate * self.block_ms // 1000
        try:
            a, continuous = self.receiver.read_block(
                want, time.monotonic() + self.block_ms / 1000 + self.quiet_timeout_s)
        except OSError as e:
            raise DeviceError(f"RTP {self.address}:{self.port}: {e}") from e
        return Block(a, continuous)

    def close(self) -> None:
        if self.receiver is not None:
            self.receiver.sock.close()
            self.receiver = None


def open_reader(spec: DeviceSpec, block_ms: int = 100, speed: float | None = None) -> Reader:
    """The reader for a parsed device URL (not yet opened)."""
    if spec.kind == "file":
        return FileReplayReader(spec.target, spec.float_param("speed", 1.0) if speed is None
                                else speed, fmt=spec.params.get("format"), block_ms=block_ms)
    if spec.kind == "lavfi":
        return GeneratedReader(spec.target, spec.float_param("speed", 1.0) if speed is None
                               else speed)
    if spec.kind in ("alsa", "pulse"):
        opts = {}
        if "channels" in spec.params:
            opts["channels"] = str(spec.int_param("channels"))
        if "rate" in spec.params:
            opts["sample_rate"] = str(spec.int_param("rate"))
        fmt = spec.kind
        if fmt == "pulse" and "pulse" not in av.formats_available:
            channels, rate = spec.int_param("channels", 2), spec.int_param("rate", 48_000)
            argv = pulse_recorder_argv(spec.target, channels, rate)
            if argv is None:
                raise DeviceError("this PyAV build has no PulseAudio input and neither parec "
                                  "nor pw-record is installed; install pulseaudio-utils or "
                                  "pipewire-bin, or use ALSA's plugin: alsa:pulse, alsa:pipewire")
            return PipeReader(argv, channels, rate, block_ms)
        return PyAVReader(spec.target, fmt, opts)
    try:
        if spec.kind == "rtp":
            host, port = spec.target.rsplit(":", 1)
            pt = spec.int_param("pt")
            fmt = RtpFormat(channels=spec.int_param("channels", 2), rate=spec.int_param(
                "rate", 48_000), encoding=spec.params.get("encoding", "L24").upper(),
                payload_type=pt)
            return RtpReader(host, int(port), fmt, block_ms=block_ms)
        if spec.kind == "sdp":
            host, port, fmt = load_sdp(spec.target)
            return RtpReader(host, port, fmt, block_ms=block_ms)
    except RtpError as e:
        raise DeviceUrlError(f"{spec.url}: {e}") from None
    raise DeviceUrlError(f"{spec.url}: no reader for {spec.kind}")
