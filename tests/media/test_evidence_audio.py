"""The evidence's sound as the offline transcriber takes it: float32 mono 16 kHz."""

import numpy as np
import pytest

from media.evidence import evidence_chunks, extract_audio_16k, iter_audio_16k
from support.media_samples import RECIPES, make_media


@pytest.mark.parametrize("recipe", ["mp4-h264", "ogg-opus", "wav", "mp3", "webm-vp8"])
def test_soundtrack_is_16k_mono_float32_with_the_right_tone(tmp_path, recipe):
    path = make_media(tmp_path / f"e{RECIPES[recipe].suffix}", recipe, seconds=2.0)
    audio = extract_audio_16k(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - 32000) < 1600
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * 16000 / len(audio) - 440) < 5


def test_long_files_come_in_blocks_with_evidence_relative_times(tmp_path):
    path = make_media(tmp_path / "e.wav", "wav", seconds=5.0)
    assert [len(b) for b in iter_audio_16k(path, block_s=2.0)] == [32000, 32000, 16000]
    chunks = list(evidence_chunks(path, "evidence:abc", block_s=2.0))
    assert [c.start_ms for c in chunks] == [0, 2000, 4000]
    assert chunks[-1].end_ms == 5000 and chunks[0].source_id == "evidence:abc"


def test_video_without_sound_says_so(tmp_path):
    path = make_media(tmp_path / "silent.mp4", "mp4-h264-silent", seconds=1.0)
    with pytest.raises(ValueError, match="no audio"):
        extract_audio_16k(path)
