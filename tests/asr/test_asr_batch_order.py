"""Batched decoding keeps each request's audio with its own prompt: requests whose prompts
differ in length are regrouped, and the text must still come back to the right source."""

from __future__ import annotations

import pytest

from asr.decoder import Decoder, DecodeRequest
from asr_testlib import clip, model, text_wer

pytestmark = pytest.mark.slow


def test_batched_requests_get_their_own_text_back():
    decoder = Decoder(model())
    a, ref_a = clip("ru-dev", "read_utterance", 4, 7, index=0)
    b, ref_b = clip("ru-dev", "read_utterance", 4, 7, index=1)
    # the longer prompt first: grouping by prompt length reorders the batch
    # (prompts of similar length share one batch, sorted shortest first)
    reqs = [DecodeRequest(a, "ru", prompt="судебное заседание продолжается слушается дело "
                                         "по иску о взыскании долга"),
            DecodeRequest(b, "ru", prompt="суд удаляется в совещательную комнату для "
                                         "вынесения решения")]
    res_a, res_b = decoder.decode(reqs)
    assert text_wer(ref_a, res_a.text) < 0.4, (ref_a, res_a.text)
    assert text_wer(ref_b, res_b.text) < 0.4, (ref_b, res_b.text)
