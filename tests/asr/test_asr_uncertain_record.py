"""The mark travels with a final: through a worker's JSON, into the stored machine segment, the
console's message and the transcript API's segment; a final with no usable text is stored as
its time and mark, and text the model may have invented never prompts the source's next
decodes."""

from __future__ import annotations

from asr.events import TranscriptEvent, Word
from asr.worker import event_from_json, event_to_json
from hearing.live import LiveHearing
from hearing.live.transcription import Transcription, machine_segment, transcript_message
from hearing.services.transcripts import segment_json
from media.clock import HearingClock

SCORES = {"mean_probability": 0.41, "avg_logprob": -0.9, "no_speech_prob": 0.1,
          "language_probability": 0.97}
UNSURE = TranscriptEvent("final", "seat:witness", "seat:witness#1", 100, 900, "Пароль неверен",
                         [Word("Пароль", 100, 400, 0.31), Word("неверен", 420, 900, 0.52)],
                         "ru", "m", committed=2, uncertain="low_confidence", scores=SCORES)
NO_TEXT = TranscriptEvent("final", "seat:witness", "seat:witness#2", 1200, 2900, "", [], "ru",
                          "m", uncertain="unintelligible")
INVENTED = TranscriptEvent("final", "seat:witness", "seat:witness#4", 4000, 4900, "Продолжим.",
                           [Word("Продолжим.", 4000, 4900, 0.8)], "ru", "m", committed=1,
                           uncertain="no_speech")
SURE = TranscriptEvent("final", "seat:witness", "seat:witness#3", 3000, 3900, "Да", [
    Word("Да", 3000, 3900, 0.97)], "ru", "m", committed=1)
WITNESS = {"key": "seat:witness", "label": "Ким", "role": "witness", "participant_id": None,
           "seat": "witness"}


def test_the_mark_survives_a_workers_json():
    back = event_from_json(event_to_json(UNSURE))
    assert back == UNSURE and back.uncertain == "low_confidence" and back.scores == SCORES
    old = event_to_json(SURE).replace(b',"uncertain":""', b"")  # from a worker before the mark
    assert event_from_json(old).uncertain == ""


def test_the_stored_segment_the_message_and_the_api_carry_the_mark():
    seg = machine_segment(UNSURE)
    assert seg.uncertain == "low_confidence" and seg.to_dict()["uncertain"] == "low_confidence"
    msg = transcript_message(UNSURE, WITNESS, seg.segment_id)
    assert msg["uncertain"] == "low_confidence"
    assert [w["probability"] for w in msg["words"]] == [0.31, 0.52]
    api = segment_json(seg, {"seat:witness": WITNESS})
    assert api["uncertain"] == "low_confidence" and api["text"] == "Пароль неверен"
    assert segment_json(machine_segment(SURE), {})["uncertain"] == ""


class FakeState:
    """What live transcription touches: the speaker map, the store, the hub."""

    def __init__(self) -> None:
        self.stored: list = []
        self.published: list[dict] = []
        self.db, self.transcripts, self.hub = self, self, self

    async def run(self, fn):  # noqa: ANN001
        return {"seat:witness": WITNESS}

    async def add_final(self, hearing_id: int, seg):  # noqa: ANN001
        self.stored.append(seg)
        return seg

    def publish(self, hearing_id: int, message: dict) -> None:
        self.published.append(message)


async def test_marked_finals_are_stored_marked_and_invented_text_never_prompts():
    state = FakeState()
    live = LiveHearing(7, HearingClock.starting_now(), "ru", [], {"seat:witness": WITNESS})
    transcription = Transcription(state)
    for event in (UNSURE, NO_TEXT, INVENTED, SURE):
        transcription._on_event(live, event)
    await live.tasks.wait()
    assert [(s.text, s.uncertain) for s in state.stored] == [
        ("Пароль неверен", "low_confidence"), ("", "unintelligible"),
        ("Продолжим.", "no_speech"), ("Да", "")]
    assert [(m["text"], m["uncertain"]) for m in state.published] == [
        (s.text, s.uncertain) for s in state.stored]
    assert live.prompt("seat:witness") == "Пароль неверен Да"
    await live.tasks.close()
