"""One decode pass on real speech: accuracy, word times, and the language restriction."""

from __future__ import annotations

import numpy as np
import pytest

from asr.decoder import Decoder, DecodeOptions, DecodeRequest
from asr_testlib import clip, model, text_wer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def decoder():
    return Decoder(model())


def test_russian_clip_is_transcribed_with_timed_words(decoder):
    audio, ref = clip("ru-dev", "read_utterance", 5, 7)
    [res] = decoder.decode([DecodeRequest(audio, "ru")])
    assert text_wer(ref, res.text) < 0.35, res.text
    assert res.language == "ru"
    duration = len(audio) / 16000
    starts = [w.start for w in res.words]
    assert starts == sorted(starts)
    assert all(0 <= w.start <= w.end <= duration + 0.05 for w in res.words)
    assert all(0 < w.probability <= 1 for w in res.words)


def test_encoder_input_follows_the_audio_not_thirty_seconds(decoder):
    assert decoder.padded_frames(3 * 16000, DecodeOptions()) == 400  # 3 s + 1 s of silence
    assert decoder.padded_frames(3 * 16000, DecodeOptions(min_seconds=30)) == 3000


def test_forced_prefix_is_kept_and_only_the_rest_is_generated(decoder):
    audio, ref = clip("ru-dev", "read_utterance", 5, 7)
    [full] = decoder.decode([DecodeRequest(audio, "ru")])
    prefix = [t for w in full.words[:3] for t in w.tokens]
    [res] = decoder.decode([DecodeRequest(audio, "ru", prefix_tokens=prefix)])
    assert res.n_prefix_words == 3
    assert [w.text for w in res.words[:3]] == [w.text for w in full.words[:3]]
    assert res.n_new_tokens < sum(len(w.tokens) for w in full.words)
    assert text_wer(ref, res.text) < 0.35


def test_language_is_chosen_between_kazakh_and_russian_only(decoder):
    ru, _ = clip("ru-dev", "read_utterance", 5, 7)
    kk, _ = clip("kk-dev", "command_sentence", 3, 10)
    results = decoder.decode([DecodeRequest(ru, "kk+ru"), DecodeRequest(kk, "kk+ru"),
                              DecodeRequest(kk, "kk")])
    assert results[0].language == "ru"
    assert results[1].language in ("kk", "ru")
    assert results[2].language == "kk"
    assert results[2].text


def test_requests_of_different_streams_decode_together(decoder):
    a, ref_a = clip("ru-dev", "read_utterance", 5, 7)
    b, ref_b = clip("ru-dev", "ivr_prompt", 3, 6)
    batch = decoder.decode([DecodeRequest(a, "ru"), DecodeRequest(b, "ru", prompt="Алло.")])
    assert text_wer(ref_a, batch[0].text) < 0.35, batch[0].text
    assert text_wer(ref_b, batch[1].text) < 0.35, batch[1].text
    assert all(np.isfinite(r.avg_logprob) for r in batch)
