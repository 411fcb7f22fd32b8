"""Segments and words: what the asr engine commits (`final` events), as plain frozen dataclasses.

A segment's ``speaker`` is the participant id the server attributes the segment to (speaker
attribution is structural: one stream per microphone or remote participant), kept separate from
``source_id`` so that a secretary can correct the speaker without losing which recording the
audio is in."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping


#: A word the recogniser heard with less probability than this is doubtful: the pages show it
#: so and each version counts them. Chosen on the tuning half of ru-dev (live finals): words
#: under it are 31 % of the words and carry 71 % of the errors (their WER 0.36, the others'
#: 0.07; offline 26 % and 67 %), near where they best part the wrong words from the right.
DOUBTFUL_PROBABILITY = 0.8


def is_doubtful(probability: float | None) -> bool:
    """The recogniser was unsure of a word heard with this probability (a typed word, with
    none, never is)."""
    return probability is not None and probability < DOUBTFUL_PROBABILITY


class SegmentError(ValueError):
    """Input that cannot become a segment (a malformed asr event, an impossible edit)."""


@dataclass(frozen=True)
class Word:
    text: str
    start_ms: int
    end_ms: int
    # Recogniser confidence; None for words typed by a secretary (their timing is estimated).
    probability: float | None = None

    def to_list(self) -> list[Any]:
        return [self.text, self.start_ms, self.end_ms, self.probability]

    @classmethod
    def from_any(cls, w: Any) -> "Word":
        """Accepts [text, start_ms, end_ms, probability] (the asr event form) or a dict."""
        if not isinstance(w, (list, tuple)) and isinstance(w, Mapping):
            text, start, end, prob = w["text"], w["start_ms"], w["end_ms"], w.get("probability")
        else:
            if len(w) not in (3, 4):
                raise SegmentError(f"word must be [text, start_ms, end_ms, probability]: {w!r}")
            text, start, end = w[0], w[1], w[2]
            prob = w[3] if len(w) == 4 else None
        if prob is not None:
            prob = float(prob)
            if not math.isfinite(prob):
                raise SegmentError(f"word probability is not finite: {w!r}")
            prob = round(prob, 4)  # 4 digits is all a reader needs; keeps the JSON short
        start, end = int(start), int(end)
        if end < start:
            raise SegmentError(f"word ends before it starts: {w!r}")
        return cls(str(text), start, end, prob)


@dataclass(frozen=True)
class Segment:
    segment_id: str
    source_id: str
    start_ms: int
    end_ms: int
    text: str
    words: tuple[Word, ...] = ()
    language: str | None = None
    model: str | None = None
    speaker: str | None = None
    # Where the segment came from: "asr" for machine text, or the kind of revision that made it.
    origin: str = "asr"
    parents: tuple[str, ...] = field(default=())
    # Why the recogniser is unsure of this text ("" when it is sure): "low_confidence",
    # "no_speech", "language", or "unintelligible" (no usable text: the record keeps only the
    # time). Written only when set, so segments signed before the mark existed hash as before.
    uncertain: str = ""
    # An interpreter's speech: the language it interprets into ("kk", "ru"); "" for the
    # floor. Written only when set, so segments signed before it existed hash as before.
    interpretation: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {
            "segment_id": self.segment_id,
            "source_id": self.source_id,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "text": self.text,
            "words": [w.to_list() for w in self.words],
            "language": self.language,
            "model": self.model,
            "speaker": self.speaker,
            "origin": self.origin,
            "parents": list(self.parents),
        }
        if self.uncertain:
            d["uncertain"] = self.uncertain
        if self.interpretation:
            d["interpretation"] = self.interpretation
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Segment":
        return cls(
            segment_id=str(d["segment_id"]),
            source_id=str(d["source_id"]),
            start_ms=int(d["start_ms"]),
            end_ms=int(d["end_ms"]),
            text=str(d["text"]),
            words=tuple(Word.from_any(w) for w in d.get("words") or ()),
            language=d.get("language"),
            model=d.get("model"),
            speaker=d.get("speaker"),
            origin=d.get("origin", "asr"),
            parents=tuple(d.get("parents") or ()),
            uncertain=str(d.get("uncertain") or ""),
            interpretation=str(d.get("interpretation") or ""),
        )


def new_segment_id() -> str:
    return uuid.uuid4().hex


def segment_from_final(event: Mapping[str, Any], *, speaker: str | None = None,
                       segment_id: str | None = None) -> Segment:
    """Turn an asr ``final`` event dict (source_id, start_ms, end_ms, text, words, language,
    model) into a Segment. ``speaker`` is the participant id the server maps the source to;
    ``segment_id`` defaults to a fresh UUID (pass your own to keep ids stable across replays)."""
    try:
        source_id = str(event["source_id"])
        start, end = int(event["start_ms"]), int(event["end_ms"])
        text = str(event["text"]).strip()
    except (KeyError, TypeError, ValueError) as e:
        raise SegmentError(f"asr final event lacks a field or has a bad one: {e}") from e
    if end < start:
        raise SegmentError(f"segment ends ({end}) before it starts ({start})")
    words = tuple(Word.from_any(w) for w in event.get("words") or ())
    return Segment(segment_id=segment_id or new_segment_id(), source_id=source_id,
                   start_ms=start, end_ms=end, text=text, words=words,
                   language=event.get("language"), model=event.get("model"),
                   speaker=speaker if speaker is not None else event.get("speaker"),
                   uncertain=str(event.get("uncertain") or ""),
                   interpretation=str(event.get("interpretation") or ""))


def chronological(segments: list[Segment]) -> list[Segment]:
    """The order of the record: by start time, then source, then id (stable across replays)."""
    return sorted(segments, key=lambda s: (s.start_ms, s.source_id, s.segment_id))
