"""Whole-file transcription and the `courtroom transcribe` command."""

from __future__ import annotations

import json
import wave

import numpy as np
import pytest

from asr.offline import transcribe_file
from asr_testlib import clip, model, silence, text_wer
from hearing.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    a, ref_a = clip("ru-dev", "read_utterance", 5, 8, index=1)
    b, ref_b = clip("ru-dev", "ivr_prompt", 3, 6, index=2)
    audio = np.concatenate([silence(1.0), a, silence(2.0), b, silence(1.0)])
    path = tmp_path_factory.mktemp("offline") / "evidence.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path, ref_a + " " + ref_b, len(audio) / 16000


def test_file_is_transcribed_in_order_with_progress(recording):
    path, ref, duration = recording
    seen: list[tuple[float, float]] = []
    segments = transcribe_file(path, "ru", model=model(), progress=lambda d, t: seen.append((d, t)))
    text = " ".join(s.text for s in segments)
    assert text_wer(ref, text) < 0.35, text
    assert [s.start_ms for s in segments] == sorted(s.start_ms for s in segments)
    assert segments[0].start_ms >= 800 and segments[-1].end_ms <= duration * 1000
    assert all(s.kind == "final" and s.language == "ru" for s in segments)
    assert seen[-1] == (pytest.approx(duration), pytest.approx(duration))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_cli_prints_json_segments(recording, capsys):
    path, ref, _ = recording
    assert main(["transcribe", str(path), "--lang", "ru", "--json", "--threads", "2",
                 "--quiet"]) == 0
    segments = json.loads(capsys.readouterr().out)
    assert text_wer(ref, " ".join(s["text"] for s in segments)) < 0.35
    assert {"start_ms", "end_ms", "words", "language", "model"} <= set(segments[0])


def test_cli_reports_a_missing_or_unreadable_file_clearly(tmp_path, capsys):
    assert main(["transcribe", str(tmp_path / "nope.wav"), "--threads", "2"]) == 2
    assert "no such file" in capsys.readouterr().err
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all")
    assert main(["transcribe", str(junk), "--threads", "2", "--quiet"]) == 2
    assert "cannot read audio" in capsys.readouterr().err
