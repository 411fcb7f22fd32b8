"""What the transcriber tells the rest of the server: partial and final segments.

A ``partial`` shows the open segment of one source: its committed words (which never change
again) followed by an unconfirmed tail. A ``final`` closes the segment; it never changes except
by a secretary's revision, which is the stenogram's business, not ours. Times are hearing-clock
milliseconds. A word is the record's own ``stenogram.segments.Word`` (one definition: what the
transcriber hears is what the record keeps); stenogram imports nothing of asr, so the offline
bundle verifier never loads Whisper."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from stenogram.segments import Word

__all__ = ["Kind", "TranscriptEvent", "Word"]

Kind = Literal["partial", "final"]


@dataclass(frozen=True, slots=True)
class TranscriptEvent:
    kind: Kind
    source_id: str
    segment_id: str  # unique within the source; a partial and its final share it
    start_ms: int
    end_ms: int
    text: str
    words: list[Word] = field(default_factory=list)  # probability always set (4 digits)
    language: str = ""  # "kk" or "ru"
    model: str = ""  # the model (and compute type) that produced the text
    committed: int = 0  # how many leading words are committed (all of them in a final)
    #: "" when the model is sure of the text, else why not (asr/confidence.py): a final marked
    #: "unintelligible" has no text, only its time
    uncertain: str = ""
    #: the figures the mark was judged on (asr.confidence.Scores), for benchmarks and logs
    scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)
