"""A recording's redacted copy: real speech recorded by the project's recorder, silenced over a
hearing-clock range at the Opus packet level. The copy decodes, is silent inside the range and
sounds as the original outside it; the check passes, and names a packet changed outside."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from media.blobstore import BlobStore
from media.redaction import SILENT_FRAMES, check_audio_redaction, read_packets, redact_recording
from media.rtc.recorder import Recorder, finalise_recordings
from support.media_samples import opus_packets

SPEECH = Path(__file__).resolve().parents[3] / "shared" / "speech" / "ru-dev"
CLIP = SPEECH / "ast_ru_conf-usermenu.wav"
pytestmark = pytest.mark.skipif(not CLIP.exists(), reason="speech sample missing")


def decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.concatenate([f.to_ndarray()[0] for f in c.decode(audio=0)]).astype(np.float64)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


async def record(tmp_path: Path, start_ms: int) -> Path:
    """The clip recorded on the hearing clock from start_ms and finalised into one blob."""
    rec = Recorder(tmp_path / "rec", lambda e: None)
    for i, payload in enumerate(opus_packets(CLIP)):
        rec.packet("p1", payload, start_ms * 48 + i * 960)
    await rec.close()
    blobs = BlobStore(tmp_path / "blobs")
    [final] = finalise_recordings(tmp_path / "rec", blobs)
    assert final.start_ms == start_ms
    return blobs.path_for(final.blob.sha256)


async def test_silence_over_a_range_and_the_check(tmp_path):
    start_ms = 10_000
    original = await record(tmp_path, start_ms)
    before = original.read_bytes()
    span = (start_ms + 1000, start_ms + 1600)  # hearing clock
    copy = tmp_path / "copy.ogg"
    silenced = redact_recording(original, copy, [span], start_ms=start_ms)
    assert silenced == 30  # 600 ms of 20 ms packets
    assert original.read_bytes() == before  # the original is never touched

    a, b = decode(original), decode(copy)
    assert len(a) == len(b)
    ms = lambda t: (t - start_ms) * 48  # noqa: E731 - sample index of a hearing-clock time
    inside = slice(ms(span[0]) + 480, ms(span[1]) - 480)
    assert rms(a[inside]) > 0.01 and rms(b[inside]) < 1e-4
    # outside: the same audio (the decoder settles within a few ms after the range)
    after = slice(ms(span[1]) + 4800, None)
    assert rms(a[after]) > 0.01 and abs(rms(b[after]) - rms(a[after])) < 0.02 * rms(a[after])
    assert np.array_equal(a[:ms(span[0]) - 960], b[:ms(span[0]) - 960])
    assert check_audio_redaction(original, copy, [span], start_ms=start_ms) == []

    # the range declared elsewhere: the silenced packets are differences outside it
    moved = check_audio_redaction(original, copy, [(span[0] + 2000, span[1] + 2000)],
                                  start_ms=start_ms)
    assert any("differs outside the declared ranges" in p for p in moved)

    # one packet altered outside the range fails, and is named by its hearing-clock time
    packets = read_packets(copy)
    k = next(i for i, p in enumerate(packets) if p.pts == 300 * 960)
    forged = tmp_path / "forged.ogg"
    redact_recording(copy, forged, [], start_ms=start_ms)  # a faithful re-mux first
    assert check_audio_redaction(original, forged, [span], start_ms=start_ms) == []
    from media.redaction import Packet, _write
    packets[k] = Packet(packets[k].pts, SILENT_FRAMES[960])
    _write(forged, packets)
    problems = check_audio_redaction(original, forged, [span], start_ms=start_ms)
    assert problems == ["packet at 00:00:16.000 differs outside the declared ranges"]
