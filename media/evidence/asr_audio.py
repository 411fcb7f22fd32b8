"""The sound of an evidence file as the transcriber wants it: float32 mono 16 kHz.

Evidence is untrusted, so its sound is decoded in the sandbox child (``sandbox``: memory, CPU
time and wall-clock limits, no network), which writes raw samples into a temp file no larger
than the declared duration allows; the server only reads plain float32 back. Times are
seconds from the start of the evidence file, not the hearing clock: evidence was recorded
elsewhere, and its transcript is marked as evidence, not as hearing speech."""

from __future__ import annotations

import errno
import itertools
import os
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..audio import SAMPLE_RATE, AudioChunk
from .errors import EvidenceRejected
from .sandbox import SandboxLimits, run_sandboxed_sync
from .validate import ValidationLimits

#: The decoding child: audio decoders need little memory; a day of sound decodes well within
#: the CPU time.
AUDIO_SANDBOX = SandboxLimits(memory_bytes=512 << 20, cpu_s=2 * 3600, wall_s=3 * 3600.0)
_BYTES_PER_S = SAMPLE_RATE * 4
_MARGIN = 1.05  # a declared duration is rounded, and resampling adds a few samples


def _file_bytes(duration_s: float | None) -> int:
    """What the declared duration allows the child to write (a day when none is declared)."""
    longest = ValidationLimits().max_duration_s
    seconds = min(duration_s, longest) if duration_s and duration_s > 0 else longest
    return int((seconds * _MARGIN + 1) * _BYTES_PER_S)


def _decode_to_file(path: str, out: str, stream: int) -> int:
    """In the sandbox child: the soundtrack as raw float32 mono 16 kHz in ``out``; the number
    of samples."""
    import av

    from .probe import open_container
    n = 0
    try:
        with open_container(Path(path)) as c, open(out, "wb") as f:
            if not c.streams.audio:
                raise EvidenceRejected("the evidence has no audio stream", kind="no_audio")
            s = c.streams.audio[stream]
            s.thread_type = "AUTO"
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            for frame in itertools.chain(c.decode(s), [None]):
                for o in resampler.resample(frame):
                    samples = o.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    f.write(samples.tobytes())
                    n += len(samples)
    except OSError as e:
        if e.errno != errno.EFBIG:
            raise
        raise EvidenceRejected("The sound of the file is longer than its declared duration "
                               "(the file is damaged or crafted).", kind="unsafe",
                               reason="file_size") from None
    return n


def iter_audio_16k(path: Path, block_s: float = 30.0, stream: int = 0, *,
                   duration_s: float | None = None, tmp_dir: Path | None = None,
                   limits: SandboxLimits = AUDIO_SANDBOX) -> Iterator[np.ndarray]:
    """Blocks of about ``block_s`` seconds (the last one shorter), read from the child's temp
    file (in ``tmp_dir``, the blob store's temp area; default the file's folder) so an
    hour-long recording never sits in memory whole. Blocking: iterate it in a worker thread.
    Raises ValueError when the file has no audio, SandboxFailed when the child hits a limit."""
    fd, name = tempfile.mkstemp(dir=tmp_dir or Path(path).parent, prefix="asr-", suffix=".f32")
    os.close(fd)
    try:
        answer = run_sandboxed_sync("media.evidence.asr_audio:_decode_to_file",
                                    [str(path), name, stream],
                                    replace(limits, file_bytes=_file_bytes(duration_s)))
        if not answer["ok"]:
            raise ValueError(answer["message"])
        f = open(name, "rb")
    finally:
        os.unlink(name)  # an open file stays readable; nothing is left behind on any exit
    block = int(block_s * SAMPLE_RATE)
    with f:
        while len(samples := np.fromfile(f, np.float32, block)):
            yield samples


def extract_audio_16k(path: Path, stream: int = 0) -> np.ndarray:
    """The whole soundtrack at once (about 230 MB an hour); prefer ``iter_audio_16k`` for long
    files. Blocking: run it in an executor."""
    blocks = list(iter_audio_16k(path, stream=stream))
    out = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    return np.clip(out, -1.0, 1.0, out=out).astype(np.float32, copy=False)


def evidence_chunks(path: Path, source_id: str, block_s: float = 30.0) -> Iterator[AudioChunk]:
    """The same as AudioChunks whose ``start_ms`` counts from the start of the evidence file."""
    start = 0
    for block in iter_audio_16k(path, block_s):
        block = np.clip(block, -1.0, 1.0).astype(np.float32, copy=False)
        yield AudioChunk(source_id, start * 1000 // SAMPLE_RATE, block)
        start += len(block)
