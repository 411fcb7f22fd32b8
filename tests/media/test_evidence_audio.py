"""The evidence's sound as the offline transcriber takes it: float32 mono 16 kHz, decoded in
the sandbox child, never in the server."""

import av
import numpy as np
import pytest

from media.evidence import evidence_chunks, extract_audio_16k, iter_audio_16k
from media.evidence.sandbox import SandboxFailed, SandboxLimits
from support.media_samples import RECIPES, make_media


def _direct_decode(path):
    """The soundtrack decoded here, in the test, as the reference."""
    with av.open(str(path)) as c:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        parts = [o.to_ndarray().reshape(-1) for f in [*c.decode(c.streams.audio[0]), None]
                 for o in resampler.resample(f)]
    return np.concatenate(parts)


@pytest.mark.parametrize("recipe", ["mp4-h264", "ogg-opus", "wav", "mp3", "webm-vp8"])
def test_soundtrack_is_16k_mono_float32_with_the_right_tone(tmp_path, recipe):
    path = make_media(tmp_path / f"e{RECIPES[recipe].suffix}", recipe, seconds=2.0)
    audio = extract_audio_16k(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - 32000) < 1600
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * 16000 / len(audio) - 440) < 5
    direct = np.clip(_direct_decode(path), -1.0, 1.0)
    assert len(audio) == len(direct) and np.allclose(audio, direct, atol=1e-5)


def test_long_files_come_in_blocks_with_evidence_relative_times(tmp_path):
    path = make_media(tmp_path / "e.wav", "wav", seconds=5.0)
    blocks = list(iter_audio_16k(path, block_s=2.0, duration_s=5.0, tmp_dir=tmp_path))
    assert [len(b) for b in blocks] == [32000, 32000, 16000]
    assert np.allclose(np.concatenate(blocks), _direct_decode(path), atol=1e-5)
    chunks = list(evidence_chunks(path, "evidence:abc", block_s=2.0))
    assert [c.start_ms for c in chunks] == [0, 2000, 4000]
    assert chunks[-1].end_ms == 5000 and chunks[0].source_id == "evidence:abc"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.wav"]  # no samples left behind


def test_video_without_sound_says_so(tmp_path):
    path = make_media(tmp_path / "silent.mp4", "mp4-h264-silent", seconds=1.0)
    with pytest.raises(ValueError, match="no audio"):
        extract_audio_16k(path)


def test_sound_longer_than_declared_is_refused_by_the_file_size_limit(tmp_path):
    path = make_media(tmp_path / "e.wav", "wav", seconds=5.0)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with pytest.raises(ValueError, match="longer than its declared duration"):
        list(iter_audio_16k(path, duration_s=1.0, tmp_dir=scratch))
    assert list(scratch.iterdir()) == []


def test_decode_beyond_the_memory_limit_fails_cleanly(tmp_path):
    path = make_media(tmp_path / "e.wav", "wav", seconds=5.0)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    tight = SandboxLimits(memory_bytes=128 << 20, cpu_s=10, wall_s=60.0)
    with pytest.raises(SandboxFailed, match="could not be read safely") as failed:
        list(iter_audio_16k(path, tmp_dir=scratch, limits=tight))
    assert failed.value.details["kind"] == "unsafe"
    assert list(scratch.iterdir()) == []
    assert len(np.concatenate(list(iter_audio_16k(path, tmp_dir=scratch)))) == 80000
