"""The transcription policy of one source, without threads or clocks.

Audio goes in (``push``), the VAD opens and closes utterances, and the core hands out decode
jobs: a *partial* re-decodes the open utterance about once a second with its committed words
forced as a prefix, and LocalAgreement-2 commits the words that two consecutive hypotheses
agree on. When the utterance closes, its *final* is a second pass: the whole utterance's audio
decoded once more with beam search, prompted with the source's earlier finals, so the record
does not inherit the greedy partials' errors (partials stay fast and provisional). The scheduler
(asr/scheduler.py) runs the jobs on the shared model; the benchmark drives the same core with a
simulated clock.

Memory is bounded: audio not yet seen by the VAD, the open utterance (``max_segment_ms``) and
closed utterances waiting for their final (``max_pending_final_ms``) each have a cap."""

from __future__ import annotations

import collections
import itertools
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from . import SAMPLE_RATE
from .confidence import ConfidenceOptions, Evidence, conditions_prompt, judge
from .decoder import (DecodedWord, DecodeOptions, DecodeRequest, DecodeResult,
                      compression_ratio)
from .events import TranscriptEvent, Word
from .filters import (FilterOptions, clean_final, cut_loops, cut_near_copies,
                      cut_squeezed_copy, cut_untimed_tail, drop_known_phrases,
                      is_silence_hallucination, normalize)
from .languages import candidates, validate
from .vad import FRAME, FRAME_MS, StreamingVad, VadOptions

SAMPLES_PER_MS = SAMPLE_RATE // 1000


@dataclass
class StreamOptions:
    """Per-source transcription settings. Defaults suit a live hearing on a small CPU."""

    language: str = "ru"  # "ru", "kk" or "kk+ru" (detected per utterance among the two)
    vocabulary: list[str] = field(default_factory=list)  # party names, statutes, court terms
    prompt: Callable[[], str] | None = None  # recent committed text of this source (its seat or participant)
    step_ms: int = 1000  # re-decode the open utterance this often while someone speaks
    first_partial_ms: int = 1000  # the first partial waits for this much of the utterance
    early_final_ms: int = 300  # without the second pass: after this much silence, decode at
    # once; if the speaker really stopped (end_silence_ms), that hypothesis becomes the final
    max_segment_ms: int = 15_000  # segment cap: close the segment at its committed words
    #: once a segment is this long, a pause of ``long_pause_ms`` (shorter than the VAD's
    #: ``end_silence_ms``) closes it: its second pass starts at once and stays short, and the
    #: cap (whose final is agreed words, late by the time they took to agree) is rarely hit.
    #: Four continuous streams on two cores (bench/asr_capacity.py --clock wall): final p95
    #: 1.75 s without, 1.50 s with 8 s, 1.14 s with 6 s; tuning-half WER 0.161 / 0.159 / 0.160
    long_segment_ms: int = 6_000
    long_pause_ms: int = 250
    trim_after_ms: int = 3_000  # once the buffer is this long, cut it at committed words
    force_trim_ms: int = 12_000  # past this, cut even where no pause follows the word
    trim_gap_ms: int = 200  # a pause this long after a committed word is a safe cut
    min_commit_audio_ms: int = 0  # no commit from hypotheses decoded from less audio
    edge_margin_ms: int = 200  # commit only words that ended this long before the previous
    # hypothesis's audio ended (a word cut by the buffer's edge is heard whole only later)
    max_pending_final_ms: int = 120_000  # closed utterances waiting for a final, per source
    max_input_ms: int = 30_000  # audio not yet seen by the VAD; the oldest is dropped beyond
    max_gap_fill_ms: int = 10_000  # a jump in start_ms up to this is filled with silence
    prompt_chars: int = 120  # recent text in the prompt: more carries errors forward
    vad: VadOptions = field(default_factory=VadOptions)
    filters: FilterOptions = field(default_factory=FilterOptions)
    confidence: ConfidenceOptions = field(default_factory=ConfidenceOptions)
    partial_decode: DecodeOptions = field(default_factory=DecodeOptions)
    #: decoding of a final that continues the greedy hypothesis (``second_pass`` off)
    final_decode: DecodeOptions = field(default_factory=DecodeOptions)
    #: the final of a closed utterance is its whole audio decoded again with
    #: ``second_pass_decode``: on the test half of ru-dev the stream's WER is 0.156 with it and
    #: 0.189 without (bench/asr_stream.py --half test), for about a quarter more CPU time per
    #: second of audio (one beam-search decode per final) and that decode's time on each final
    second_pass: bool = True
    second_pass_decode: DecodeOptions = field(
        default_factory=lambda: DecodeOptions(beam_size=5))
    #: the second pass also hears the source's previous segment when it ended at most this
    #: long before (a sentence cut at a pause): its audio goes first, its final text is forced
    #: as the decoder's prefix, and only the words after it are new. 0: each segment alone.
    #: Only for a single-language source, and after a final that was not marked.
    second_pass_context_gap_ms: int = 2_000
    second_pass_context_max_ms: int = 10_000  # at most this much of the previous segment
    #: ... and only while both together stay this short: a decode's time grows faster than
    #: its audio (on one core 4 s take 0.2 s, 13 s 0.8 s, 20 s 1.6 s), and a long segment
    #: carries its own context (bench/asr_capacity.py: final latency p95 of one stream 2.0 s
    #: with 28 s, 1.1 s with 12 s)
    second_pass_context_total_ms: int = 12_000

    def __post_init__(self) -> None:
        self.language = validate(self.language)
        if not 2000 <= self.max_segment_ms <= 28_000:
            raise ValueError("max_segment_ms must be between 2 and 28 seconds")


@dataclass(eq=False)
class _Utterance:
    segment_id: str
    start_ms: int  # hearing-clock time of the first buffered sample
    chunks: list[np.ndarray]
    n_samples: int = 0
    committed: list[Word] = field(default_factory=list)
    word_tokens: list[list[int]] = field(default_factory=list)  # tokens of each committed word
    prefix_from: int = 0  # committed words from here on lie in the buffer (forced prefix)
    tail: list[Word] = field(default_factory=list)  # the last hypothesis beyond committed
    language: str | None = None
    decoded_to_ms: int | None = None  # end of the audio the last decode covered
    epoch: int = 0  # bumped when the buffer is trimmed; older results are stale
    final_started: bool = False
    segment_start_ms: int = -1  # where the segment began (the buffer's start moves on trims)
    tail_audio_end_ms: int = 0  # end of the audio the tail hypothesis was decoded from
    last_speech_ms: int = 0  # end of the last frame the VAD called speech
    closed: bool = False  # the speaker stopped: waiting for (or given) its final
    partial_words: bool = False  # a partial decode of it found words
    partial_heard: bool = False  # a partial decode of it came back (one still decoding in
    # another lane when the final is taken does not count)
    evidence: Evidence = field(default_factory=Evidence)  # what its mark is judged on
    #: the segment's whole audio from ``segment_start_ms`` (trims do not cut it): what the
    #: second pass decodes; bounded by ``max_segment_ms``
    segment_chunks: list[np.ndarray] | None = None

    def __post_init__(self) -> None:
        if self.segment_start_ms < 0:
            self.segment_start_ms = self.start_ms
        if self.segment_chunks is None:
            self.segment_chunks = list(self.chunks)

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.n_samples // SAMPLES_PER_MS

    def audio(self) -> np.ndarray:
        if len(self.chunks) > 1:
            self.chunks = [np.concatenate(self.chunks)]
        return self.chunks[0] if self.chunks else np.zeros(0, dtype=np.float32)

    def append(self, samples: np.ndarray) -> None:
        self.chunks.append(samples)
        self.segment_chunks.append(samples)
        self.n_samples += len(samples)

    def segment_audio(self) -> np.ndarray:
        if len(self.segment_chunks) > 1:
            self.segment_chunks = [np.concatenate(self.segment_chunks)]
        return self.segment_chunks[0] if self.segment_chunks else np.zeros(0, np.float32)

    @property
    def prefix_tokens(self) -> list[int]:
        return [t for w in self.word_tokens[self.prefix_from:] for t in w]

    def context_text(self) -> str:
        """Committed words already cut from the buffer: they condition the decoder as text."""
        return " ".join(w.text for w in self.committed[:self.prefix_from])

    def trim_to(self, ms: int) -> None:
        """Drop the audio before hearing-clock ``ms``."""
        cut = max(0, min(self.n_samples, (ms - self.start_ms) * SAMPLES_PER_MS))
        audio = self.audio()[cut:]
        self.chunks = [audio.copy()]
        self.n_samples = len(audio)
        self.start_ms += cut // SAMPLES_PER_MS
        self.epoch += 1


@dataclass
class Job:
    """One decode the scheduler should run for this stream."""

    kind: str  # "partial" or "final"
    request: DecodeRequest
    utterance: _Utterance
    epoch: int
    audio_start_ms: int
    audio_end_ms: int
    second_pass: bool = False  # the whole segment decoded afresh (no forced prefix)
    hurried: bool = False  # ... in a hurry: without the previous segment's audio


class StreamCore:
    """Streaming policy for one source; not thread-safe (the scheduler holds a lock)."""

    def __init__(self, source_id: str, options: StreamOptions, model_label: str):
        self.source_id = source_id
        self.options = options
        self.model_label = model_label
        self._vad = StreamingVad()
        self._pending_input: collections.deque[np.ndarray] = collections.deque()
        self._pending_samples = 0
        self._next_ms: int | None = None  # hearing time of the next sample expected
        self._vad_carry = np.zeros(0, dtype=np.float32)
        self._vad_pos_ms: int | None = None  # hearing time up to which the VAD has looked
        self._ring: collections.deque[np.ndarray] = collections.deque()  # pre-roll when idle
        self._speech_run_ms = 0
        self._silence_run_ms = 0
        self._open: _Utterance | None = None
        self._finals: collections.deque[_Utterance] = collections.deque()
        self._seq = itertools.count(1)
        self._recent_text: collections.deque[str] = collections.deque(maxlen=20)
        #: the last final, for the next second pass: (audio, its tokens, its text, segment
        #: end on the hearing clock)
        self._context: tuple[np.ndarray, list[int], str, int] | None = None
        self.dropped_input_ms = 0  # audio lost before the VAD (input far faster than the VAD)
        self.dropped_speech_ms = 0  # speech finalised without a decode under overload
        self._events: list[TranscriptEvent] = []
        self.closed = False

    # -- input ----------------------------------------------------------------------------

    def push(self, start_ms: int, samples: np.ndarray) -> None:
        """Queue audio (float32 mono 16 kHz at hearing time ``start_ms``). Cheap: no VAD."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if self._next_ms is None:
            self._next_ms = start_ms
            self._vad_pos_ms = start_ms
        gap = start_ms - self._next_ms
        if gap < 0:  # overlap with audio we have: keep only the new part
            samples = samples[-gap * SAMPLES_PER_MS:]
        elif gap > self.options.max_gap_fill_ms:
            self._discontinuity(start_ms)
        elif gap > 0:
            samples = np.concatenate([np.zeros(gap * SAMPLES_PER_MS, np.float32), samples])
        if len(samples) == 0:
            return
        self._pending_input.append(samples)
        self._pending_samples += len(samples)
        self._next_ms += len(samples) // SAMPLES_PER_MS
        limit = self.options.max_input_ms * SAMPLES_PER_MS
        while self._pending_samples > limit and len(self._pending_input) > 1:
            old = self._pending_input.popleft()
            self._pending_samples -= len(old)
            self.dropped_input_ms += len(old) // SAMPLES_PER_MS
            self._vad_pos_ms = (self._vad_pos_ms or 0) + len(old) // SAMPLES_PER_MS

    def _discontinuity(self, start_ms: int) -> None:
        """A long jump in time (a participant reconnecting): end what was open."""
        self._pending_input.clear()
        self._pending_samples = 0
        self._vad_carry = np.zeros(0, dtype=np.float32)
        if self._open is not None:
            self._close_open()
        self._ring.clear()
        self._speech_run_ms = 0
        self._next_ms = start_ms
        self._vad_pos_ms = start_ms

    def take_input(self) -> np.ndarray:
        """Whole VAD frames pending; the caller runs ``StreamingVad`` on them off the lock."""
        if not self._pending_input:
            return np.zeros(0, dtype=np.float32)
        audio = np.concatenate([self._vad_carry, *self._pending_input])
        self._pending_input.clear()
        self._pending_samples = 0
        whole = len(audio) // FRAME * FRAME
        self._vad_carry = audio[whole:]
        return audio[:whole]

    @property
    def vad(self) -> StreamingVad:
        return self._vad

    # -- VAD ------------------------------------------------------------------------------

    def apply_vad(self, frames: np.ndarray, probs: np.ndarray) -> None:
        """Advance the utterance state over frames whose speech probabilities are known."""
        o = self.options.vad
        pre_roll = o.pre_roll_ms // FRAME_MS + o.min_speech_ms // FRAME_MS + 1
        for k, p in enumerate(probs):
            frame = frames[k * FRAME:(k + 1) * FRAME]
            frame_start = self._vad_pos_ms
            self._vad_pos_ms += FRAME_MS
            if self._open is None:
                self._ring.append(frame)
                while len(self._ring) > pre_roll:
                    self._ring.popleft()
                if p >= o.onset:
                    self._speech_run_ms += FRAME_MS
                elif p < o.offset:
                    self._speech_run_ms = 0
                if self._speech_run_ms >= o.min_speech_ms:
                    audio = np.concatenate(list(self._ring))
                    start = frame_start + FRAME_MS - len(audio) // SAMPLES_PER_MS
                    self._open = _Utterance(self._new_segment_id(), start, [audio], len(audio))
                    self._ring.clear()
                    self._speech_run_ms = 0
                    self._silence_run_ms = 0
                continue
            u = self._open
            u.append(frame)
            if p < o.offset:
                self._silence_run_ms += FRAME_MS
            else:  # speech, or its soft ending: the hypothesis at a pause must include it
                u.last_speech_ms = u.end_ms
                if p >= o.onset:
                    self._silence_run_ms = 0
            if self._silence_run_ms >= o.end_silence_ms or (
                    self._silence_run_ms >= self.options.long_pause_ms and
                    u.end_ms - u.segment_start_ms >= self.options.long_segment_ms):
                self._close_open()
            elif u.end_ms - u.segment_start_ms >= self.options.max_segment_ms or \
                    u.end_ms - u.start_ms >= 28_000:
                self._cap_open()

    def _new_segment_id(self) -> str:
        return f"{self.source_id}#{next(self._seq)}"

    def _close_open(self) -> None:
        u, self._open = self._open, None
        self._ring.clear()
        self._silence_run_ms = 0
        if u is None:
            return
        u.closed = True
        if not self.options.second_pass and self._heard_the_end(u) and \
                u.decoded_to_ms == u.tail_audio_end_ms:
            self._finish_from_hypothesis(u)  # no decode in flight, none needed
            return
        self._finals.append(u)
        self._bound_finals()

    def _heard_the_end(self, u: _Utterance) -> bool:
        """The last hypothesis was decoded from audio that runs past the end of speech."""
        return u.last_speech_ms > 0 and \
            u.tail_audio_end_ms >= u.last_speech_ms + self.options.early_final_ms - FRAME_MS

    def _finish_from_hypothesis(self, u: _Utterance) -> None:
        u.final_started = True
        if u in self._finals:
            self._finals.remove(u)
        self._emit_final(u, list(u.committed) + list(u.tail))

    def _cap_open(self) -> None:
        """The buffer reached its cap while speech goes on: close the segment at its committed
        words (already agreed, so no decode is needed) and keep the rest as a new segment."""
        u = self._open
        if not u.committed:
            self._close_open()
            self._open = _Utterance(self._new_segment_id(), u.end_ms, [], 0)
            return
        cut_ms = u.committed[-1].end_ms
        rest = _Utterance(self._new_segment_id(), u.start_ms, [u.audio()], u.n_samples,
                          tail=list(u.tail), language=u.language, epoch=u.epoch,
                          tail_audio_end_ms=u.tail_audio_end_ms)
        rest.trim_to(cut_ms)
        rest.segment_start_ms = rest.start_ms
        rest.segment_chunks = list(rest.chunks)
        rest.decoded_to_ms = None
        u.chunks, u.n_samples = [], 0
        u.final_started = True
        self._open = rest
        # No second pass here: its audio would end inside speech, where a decode loses or
        # squeezes the last words; the agreed words are the final.
        self._emit_final(u, list(u.committed))

    def _bound_finals(self) -> None:
        limit = self.options.max_pending_final_ms
        while sum(f.end_ms - f.start_ms for f in self._finals) > limit and len(self._finals) > 1:
            u = self._finals.popleft()
            words = list(u.committed) + list(u.tail)
            if not words:
                self.dropped_speech_ms += u.end_ms - u.start_ms
            u.final_started = True
            self._emit_final(u, words)

    # -- jobs -----------------------------------------------------------------------------

    def has_final_job(self) -> bool:
        return bool(self._finals)

    def partial_ready(self, step_scale: float = 1.0) -> bool:
        """Enough new speech for a partial; ``step_scale`` > 1 spaces partials out when the
        model is overloaded."""
        u = self._open
        if u is None:
            return False
        last = u.decoded_to_ms if u.decoded_to_ms is not None else u.start_ms
        if u.last_speech_ms and last < u.last_speech_ms + self.options.early_final_ms <= \
                u.end_ms and u.end_ms - u.last_speech_ms >= self.options.early_final_ms and \
                not self.options.second_pass:
            return True  # the speaker paused: a hypothesis now may save the final's decode
        wait = self.options.step_ms * step_scale if u.decoded_to_ms is not None else \
            self.options.first_partial_ms
        return u.end_ms - last >= wait

    def take_final_job(self, hurry: bool = False) -> Job | None:
        """The next final's decode; ``hurry``: the model is behind on finals, so the second
        pass decodes the segment alone, without the previous segment's audio."""
        while self._finals:
            u = self._finals.popleft()
            if u.final_started:
                continue
            u.final_started = True
            if self.options.second_pass:
                return self._second_pass_job(u, hurry)
            return self._job("final", u, self.options.final_decode)
        return None

    def take_partial_job(self, step_scale: float = 1.0) -> Job | None:
        if not self.partial_ready(step_scale):
            return None
        u = self._open
        u.decoded_to_ms = u.end_ms
        return self._job("partial", u, self.options.partial_decode)

    def _job(self, kind: str, u: _Utterance, options: DecodeOptions) -> Job:
        audio = u.audio()
        limit = 29 * SAMPLE_RATE  # leave room for the decoder's tail padding
        audio = audio[:limit]
        # Only the audio after the last committed word needs new tokens: bounding them stops a
        # looping hypothesis early instead of letting it run to the context limit.
        open_from = u.committed[-1].end_ms if len(u.committed) > u.prefix_from else u.start_ms
        end_ms = u.start_ms + len(audio) // SAMPLES_PER_MS
        open_s = max(0.0, (end_ms - open_from) / 1000)
        if options.max_new_tokens is None:
            options = replace(options, max_new_tokens=int(10 + 7 * open_s))
        request = DecodeRequest(
            audio=audio.copy() if kind == "partial" else audio,
            language=u.language or self.options.language,
            prompt=self._prompt(u), prefix_tokens=u.prefix_tokens, options=options)
        return Job(kind, request, u, u.epoch, u.start_ms, end_ms)

    def _second_pass_job(self, u: _Utterance, hurry: bool = False) -> Job:
        """The whole segment once more, with beam search and the source's earlier finals as
        prompt (not its own greedy words: their errors would be copied)."""
        audio = u.segment_audio()[:29 * SAMPLE_RATE]
        options = self.options.second_pass_decode
        if options.max_new_tokens is None:
            options = replace(options, max_new_tokens=int(10 + 7 * len(audio) / SAMPLE_RATE))
        end_ms = u.segment_start_ms + len(audio) // SAMPLES_PER_MS
        before, prefix, known = np.zeros(0, np.float32), [], ""
        o = self.options
        if self._context is not None and o.second_pass_context_gap_ms > 0 and not hurry and \
                len(candidates(o.language)) == 1:
            c_audio, c_tokens, c_text, c_end = self._context
            c_audio = c_audio[-o.second_pass_context_max_ms * SAMPLES_PER_MS:]
            if 0 <= u.segment_start_ms - c_end <= o.second_pass_context_gap_ms and \
                    len(c_audio) == len(self._context[0]) and c_tokens and \
                    len(c_audio) + len(audio) <= min(28_000, o.second_pass_context_total_ms) \
                    * SAMPLES_PER_MS:
                before, prefix, known = c_audio, c_tokens, c_text
        request = DecodeRequest(audio=np.concatenate([before, audio]) if len(before) else audio,
                                language=o.language, prompt=self._prompt(u, own=False,
                                                                         known=known),
                                prefix_tokens=prefix, options=options)
        return Job("final", request, u, u.epoch,
                   u.segment_start_ms - len(before) // SAMPLES_PER_MS, end_ms, second_pass=True,
                   hurried=hurry)

    def _prompt(self, u: _Utterance, own: bool = True, known: str = "") -> str:
        """Vocabulary and recent text; ``known``, text the decoder is given as its prefix, is
        left out of the prompt (it would be there twice)."""
        parts = []
        if self.options.vocabulary:
            parts.append(", ".join(self.options.vocabulary) + ".")
        n = self.options.prompt_chars
        if n > 0:
            recent = self.options.prompt() if self.options.prompt else " ".join(self._recent_text)
            if known and recent.rstrip().endswith(known):
                recent = recent.rstrip()[:-len(known)].rstrip()
            context = u.context_text() if own else ""
            if context:
                n = max(0, n - len(context))
                recent = recent[-n:] if n else ""
            text = " ".join(t for t in (recent, context) if t).strip()
            if text:
                parts.append(text[-self.options.prompt_chars:])
        return " ".join(parts)

    def needed_from_ms(self) -> int | None:
        """Hearing time before which this source's audio is no longer needed: it lies in
        finals already emitted or is known to hold no speech (the VAD's pre-roll is kept).
        Utterances whose final decode is under way are the scheduler's to count. None before
        any audio."""
        if self._vad_pos_ms is None:
            return None
        points = [self._vad_pos_ms - len(self._ring) * FRAME_MS]
        points += [u.segment_start_ms for u in self._finals if not u.final_started]
        if self._open is not None:
            points.append(self._open.segment_start_ms)
        return min(points)

    def pending_final_ms(self) -> int:
        return sum(f.end_ms - f.start_ms for f in self._finals)

    @property
    def processed_to_ms(self) -> int | None:
        """End of the audio whose text is settled or decoded at least once (for the lag)."""
        if self._vad_pos_ms is None:
            return None
        points = [self._vad_pos_ms]
        for f in self._finals:
            if not f.final_started:
                points.append(f.decoded_to_ms if f.decoded_to_ms is not None else f.start_ms)
                break
        if self._open is not None:
            u = self._open
            points.append(u.decoded_to_ms if u.decoded_to_ms is not None else u.start_ms)
        return min(points)

    @property
    def received_to_ms(self) -> int | None:
        return self._next_ms

    def close(self) -> None:
        """End of input: whatever is open becomes a final."""
        self.closed = True
        if self._open is not None:
            self._close_open()

    def oldest_final_ms(self) -> int:
        return self._finals[0].end_ms if self._finals else 0

    def open_decoded_ms(self) -> int:
        u = self._open
        if u is None:
            return 0
        return u.decoded_to_ms if u.decoded_to_ms is not None else u.start_ms

    def open_length_ms(self) -> int:
        u = self._open
        return 0 if u is None else u.end_ms - u.start_ms

    def fail(self, job: Job) -> None:
        """The decode raised: a final still publishes what was already agreed."""
        if job.kind == "final":
            self._emit_final(job.utterance, list(job.utterance.committed) +
                             list(job.utterance.tail))

    def idle(self) -> bool:
        return self._open is None and not self._finals and not self._pending_input

    # -- results --------------------------------------------------------------------------

    def complete(self, job: Job, result: DecodeResult) -> None:
        u = job.utterance
        if job.kind == "final":
            self._complete_final(job, result)
            return
        if u.final_started or u.epoch != job.epoch:
            return  # the utterance moved on while this partial ran
        lang = result.language
        cleaned = [] if self._silent(result) else self._clean(job, result)
        self._observe(u, result, cleaned)
        u.partial_words = u.partial_words or bool(cleaned)
        u.partial_heard = True
        cleaned = self._without_repeats(u, cleaned)
        tail = [w for w, _ in cleaned]
        k = 0
        prev = [normalize(w.text) for w in u.tail]
        limit = u.tail_audio_end_ms - self.options.edge_margin_ms
        if u.tail_audio_end_ms - u.segment_start_ms < self.options.min_commit_audio_ms:
            limit = -1  # the previous hypothesis heard too little of the utterance
        for a, w in zip(prev, tail):
            if a != normalize(w.text) or not a or w.end_ms > limit:
                break
            k += 1
        if k:
            u.committed.extend(tail[:k])
            u.word_tokens.extend(list(tokens) for _, tokens in cleaned[:k])
            u.language = lang  # the utterance's language is settled with its first words
        u.tail = tail[k:]
        u.tail_audio_end_ms = job.audio_end_ms
        if u.closed and self._heard_the_end(u) and not self.options.second_pass:
            self._finish_from_hypothesis(u)  # its queued final job will be skipped
            return
        self._emit_partial(u, lang)
        self._trim(u)

    def _trim(self, u: _Utterance) -> None:
        """Keep decodes short: cut the buffer after a committed word (preferably one followed
        by a pause); the words before the cut then condition the decoder as prompt text,
        which costs one forward pass instead of a decoding step per token."""
        o = self.options
        length = u.end_ms - u.start_ms
        if length < o.trim_after_ms or u.prefix_from >= len(u.committed):
            return
        following = u.committed[1:] + (u.tail[:1] if u.tail else [])
        cut_index, cut_ms = None, None
        for i in range(len(u.committed) - 1, u.prefix_from - 1, -1):
            w = u.committed[i]
            nxt = following[i] if i < len(following) else None
            if nxt is None:
                continue
            gap = nxt.start_ms - w.end_ms
            if gap >= o.trim_gap_ms:
                cut_index, cut_ms = i, w.end_ms + gap // 2
                break
        if cut_index is None and length >= o.force_trim_ms:
            i = len(u.committed) - 1
            if i >= u.prefix_from:
                cut_index, cut_ms = i, u.committed[i].end_ms
        if cut_index is None or cut_ms <= u.start_ms:
            return
        u.trim_to(cut_ms)
        u.prefix_from = cut_index + 1

    def _complete_final(self, job: Job, result: DecodeResult) -> None:
        u = job.utterance
        if job.second_pass:
            self._complete_second_pass(job, result)
            return
        cleaned = [] if self._silent(result) else self._clean(job, result)
        self._observe(u, result, cleaned)
        tail = [w for w, _ in cleaned]
        if u.language is None:
            u.language = result.language
        self._emit_final(u, list(u.committed) + tail, language=result.language)

    def _complete_second_pass(self, job: Job, result: DecodeResult) -> None:
        """The final is the second pass's text, judged (filters and mark) on that decode
        alone; where it finds no words, the greedy hypothesis is judged as before. Beam search
        writes fluent text on noise more readily than greedy decoding: an utterance in which
        the partials found no words gets no text from it, nor does one too short for a partial
        that the second pass itself probably heard no speech in."""
        u = job.utterance
        heard = u.partial_words or (not u.partial_heard and result.no_speech_prob <=
                                    self.options.filters.no_speech_threshold)
        usable = heard and not self._silent(result)
        cleaned = self._clean(job, result) if usable else []
        if not cleaned:
            greedy = list(u.committed) + list(u.tail)
            raw = [w for w, _ in self._decoded_words(job, result)] if usable and not greedy \
                else []
            f = self.options.filters
            if raw and max(w.probability for w in raw) >= f.invented_probability and \
                    compression_ratio(_join(raw)) > f.compression_ratio_threshold:
                # speech, and its only decode a loop: the time and the mark are kept, never
                # the text (an invention on noise, or a known phrase, leaves nothing)
                u.evidence = Evidence()
                self._observe(u, result, raw)
                self._emit_final(u, [], language=result.language, heard=raw)
                return
            self._emit_final(u, greedy)
            return
        u.evidence = Evidence()
        self._observe(u, result, cleaned)
        u.language = result.language
        audio = u.segment_audio()
        tokens = {id(w): t for w, t in cleaned}
        n_events = len(self._events)
        self._emit_final(u, [w for w, _ in cleaned], language=result.language)
        final = self._events[-1] if len(self._events) > n_events else None
        if final is not None and final.kind == "final" and final.words and \
                conditions_prompt(final.uncertain) and \
                all(id(w) in tokens for w in final.words):
            end = u.segment_start_ms + len(audio) // SAMPLES_PER_MS
            self._context = (audio, [t for w in final.words for t in tokens[id(w)]],
                             final.text, end)

    @staticmethod
    def _observe(u: _Utterance, result: DecodeResult, cleaned: list) -> None:
        """Keep the figures of a decode that gave words, for the final's mark."""
        if cleaned:
            u.evidence.add(n_tokens=max(1, result.n_new_tokens), avg_logprob=result.avg_logprob,
                           no_speech_prob=result.no_speech_prob, language=result.language,
                           language_probability=result.language_probability)

    def _without_repeats(self, u: _Utterance, cleaned: list[tuple[Word, list[int]]]
                         ) -> list[tuple[Word, list[int]]]:
        """New words that loop or copy the utterance's committed words are not kept: judged
        on the whole text, so that a loop cannot grow one decode at a time and be committed.
        (An unfinished last sentence is not judged here: the speaker may be saying it.)"""
        if not cleaned:
            return cleaned
        f = self.options.filters
        words = cut_loops(list(u.committed) + [w for w, _ in cleaned], lambda w: w.text,
                          lambda w: w.probability, f)
        kept = {id(w) for w in cut_near_copies(words, lambda w: w.text,
                                                lambda w: w.probability, f)}
        return [c for c in cleaned if id(c[0]) in kept]

    def _judge(self, words: list[Word]) -> list[Word]:
        return clean_final(words, lambda w: w.text, lambda w: w.probability,
                           self.options.filters)

    def _silent(self, result: DecodeResult) -> bool:
        return is_silence_hallucination(result.no_speech_prob, result.avg_logprob,
                                        self.options.filters) or (
            result.compression_ratio > self.options.filters.compression_ratio_threshold
            and result.avg_logprob < self.options.filters.logprob_threshold)

    @staticmethod
    def _decoded_words(job: Job, result: DecodeResult) -> list[tuple[Word, list[int]]]:
        """The decode's new words (beyond the forced prefix) on the hearing clock, with their
        tokens. In a second pass the whole utterance was decoded: words that begin where its
        audio ends were written into the silence after the speech."""
        words = [(_to_word(w, job.audio_start_ms, job.audio_end_ms), w.tokens)
                 for w in result.words[result.n_prefix_words:]]
        return [w for w in words if w[0].text and
                (not job.second_pass or w[0].start_ms < job.audio_end_ms)]

    def _clean(self, job: Job, result: DecodeResult) -> list[tuple[Word, list[int]]]:
        """New words (beyond the forced prefix) on the hearing clock, with their tokens, minus
        repetition loops and invented phrases."""
        words = self._decoded_words(job, result)
        if job.second_pass:  # a run of words that take no time was written into the silence
            words = cut_untimed_tail(words, lambda w: (w[0].start_ms, w[0].end_ms))
        f = self.options.filters
        words = cut_loops(words, lambda w: w[0].text, lambda w: w[0].probability, f)
        words = cut_squeezed_copy(words, lambda w: w[0].text,
                                  lambda w: (w[0].start_ms, w[0].end_ms))
        if compression_ratio(" ".join(w[0].text for w in words)) > f.compression_ratio_threshold:
            return []  # still this repetitive after cutting loops: not speech
        if words and max(w[0].probability for w in words) < f.invented_probability:
            return []  # not one word the model believes: an invention on noise
        return drop_known_phrases(words, lambda w: w[0].text, lambda w: w[0].probability, f)

    # -- events ---------------------------------------------------------------------------

    def _emit_partial(self, u: _Utterance, language: str) -> None:
        words = list(u.committed) + list(u.tail)
        if not words:
            return
        scores = u.evidence.scores((w.probability for w in words), language)
        self._events.append(TranscriptEvent(
            "partial", self.source_id, u.segment_id, words[0].start_ms, words[-1].end_ms,
            _join(words), words, language, self.model_label, committed=len(u.committed),
            uncertain=judge(scores, self.options.confidence, language), scores=scores.as_dict()))

    def _emit_final(self, u: _Utterance, words: list[Word], language: str | None = None,
                    heard: list[Word] | None = None) -> None:
        """The utterance's final of ``words`` (judged whole), or, where none is usable, the
        mark that speech was ``heard`` (by default the words themselves) without its text."""
        u.chunks, u.n_samples, u.segment_chunks = [], 0, []  # the audio is no longer needed
        self._context = None  # the next second pass may hear this segment: see its caller
        heard = words if heard is None else heard
        words = self._judge(words)  # the whole final: loops and copies span decodes
        lang = language or u.language or candidates(self.options.language)[0]
        if not words:
            if heard and u.evidence.scores((), lang).no_speech_prob <= \
                    self.options.confidence.no_speech_prob:
                self._emit_unintelligible(u, heard, lang)  # speech heard, no text usable
            return
        scores = u.evidence.scores((w.probability for w in words), lang)
        uncertain = judge(scores, self.options.confidence, lang)
        if uncertain == "unintelligible":
            self._emit_unintelligible(u, words, lang, scores.as_dict())
            return
        text = _join(words)
        if conditions_prompt(uncertain):
            self._recent_text.append(text)
        self._events.append(TranscriptEvent(
            "final", self.source_id, u.segment_id, words[0].start_ms, words[-1].end_ms,
            text, words, lang, self.model_label, committed=len(words), uncertain=uncertain,
            scores=scores.as_dict()))

    def _emit_unintelligible(self, u: _Utterance, heard: list[Word], lang: str,
                             scores: dict | None = None) -> None:
        """Someone spoke, but the words the model wrote are not usable (babble, a loop, an
        invention): the record keeps the time and the mark, never the invented text."""
        self._events.append(TranscriptEvent(
            "final", self.source_id, u.segment_id, heard[0].start_ms, heard[-1].end_ms, "", [],
            lang, self.model_label, committed=0, uncertain="unintelligible",
            scores=scores or u.evidence.scores((w.probability for w in heard), lang).as_dict()))

    def drain_events(self) -> list[TranscriptEvent]:
        events, self._events = self._events, []
        return events


def _to_word(w: DecodedWord, start_ms: int, end_ms: int) -> Word:
    s = min(end_ms, start_ms + int(round(w.start * 1000)))
    e = min(end_ms, max(s, start_ms + int(round(w.end * 1000))))
    return Word(w.text.strip(), s, e, round(float(w.probability), 4))


def _join(words: list[Word]) -> str:
    return " ".join(w.text for w in words).strip()
