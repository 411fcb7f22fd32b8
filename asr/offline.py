"""Whole-file transcription: evidence, and re-transcription of a recording for the official text.

Speech regions found by Silero are merged into chunks of at most ``max_chunk_s`` (never cut
inside speech when a pause exists), decoded in batches with beam search, and returned as final
segments split at sentence ends. Blocking: run it in a thread; ``progress(done_s, total_s)``
reports how much audio is done."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from faster_whisper.audio import decode_audio
from faster_whisper.vad import VadOptions as FwVadOptions, get_speech_timestamps

from . import SAMPLE_RATE
from .confidence import ConfidenceOptions, Evidence, judge, with_model_languages
from .decoder import Decoder, DecodeOptions, DecodeRequest, DecodeResult
from .events import TranscriptEvent, Word
from .filters import (FilterOptions, clean_final, cut_repetitions, cut_squeezed_copy,
                      drop_known_phrases, is_silence_hallucination, is_zero_length,
                      repeats_previous)
from .languages import validate
from .model import LoadedModel, ModelOptions, load_model

_SENTENCE_END = re.compile(r"[.!?…]['\"»)]*$")


@dataclass(frozen=True)
class OfflineOptions:
    """Defaults favour accuracy: this is the text that goes into the official record."""

    beam_size: int = 5
    batch_size: int = 4  # chunks decoded together
    max_chunk_s: float = 25.0  # chunk length cap (Whisper's window is 30 s)
    min_silence_ms: int = 500  # a pause at least this long may separate two chunks
    speech_pad_ms: int = 200
    #: the encoder input of each chunk is padded with silence to at least this many seconds
    #: (30 s is Whisper's window, as plain faster-whisper pads; see ``DecodeOptions``)
    min_seconds: float = 0.0
    prompt: str = ""  # vocabulary: party names, statutes, court terms
    filters: FilterOptions = field(default_factory=FilterOptions)
    confidence: ConfidenceOptions = field(default_factory=ConfidenceOptions)


def speech_chunks(audio: np.ndarray, options: OfflineOptions) -> list[tuple[int, int]]:
    """(start, end) sample ranges of speech, merged up to ``max_chunk_s`` each."""
    regions = get_speech_timestamps(audio, FwVadOptions(
        min_silence_duration_ms=options.min_silence_ms, speech_pad_ms=options.speech_pad_ms,
        max_speech_duration_s=options.max_chunk_s))
    limit = int(options.max_chunk_s * SAMPLE_RATE)
    chunks: list[tuple[int, int]] = []
    for r in regions:
        start, end = int(r["start"]), int(r["end"])
        if chunks and end - chunks[-1][0] <= limit:
            chunks[-1] = (chunks[-1][0], end)
        else:
            chunks.append((start, end))
    return chunks


def transcribe_audio(audio: np.ndarray, language: str, *, decoder: Decoder | None = None,
                     model: LoadedModel | None = None, options: OfflineOptions | None = None,
                     source_id: str = "file", start_ms: int = 0,
                     progress: Callable[[float, float], None] | None = None
                     ) -> list[TranscriptEvent]:
    """Transcribe float32 mono 16 kHz audio; times are ``start_ms`` + offset in the audio."""
    options = options or OfflineOptions()
    language = validate(language)
    decoder = decoder or Decoder(model or load_model(ModelOptions()))
    confidence = with_model_languages(options.confidence,
                                      decoder.model.options.review_languages)
    total_s = len(audio) / SAMPLE_RATE
    chunks = speech_chunks(audio, options)
    dopts = DecodeOptions(beam_size=options.beam_size, min_seconds=options.min_seconds)
    order = sorted(range(len(chunks)), key=lambda i: chunks[i][1] - chunks[i][0])
    results: dict[int, DecodeResult] = {}
    done = 0.0
    if progress:
        progress(0.0, total_s)
    for b in range(0, len(order), options.batch_size):
        idx = order[b:b + options.batch_size]
        reqs = [DecodeRequest(audio[chunks[i][0]:chunks[i][1]], language, options.prompt,
                              options=dopts) for i in idx]
        for i, res in zip(idx, decoder.decode(reqs)):
            results[i] = res
            done += (chunks[i][1] - chunks[i][0]) / SAMPLE_RATE
        if progress:
            progress(min(done, total_s), total_s)
    segments: list[TranscriptEvent] = []
    for i, (s, e) in enumerate(chunks):
        res = results[i]
        if is_silence_hallucination(res.no_speech_prob, res.avg_logprob, options.filters):
            continue
        base = start_ms + s * 1000 // SAMPLE_RATE
        end = start_ms + e * 1000 // SAMPLE_RATE
        words = [Word(w.text.strip(), min(end, base + int(w.start * 1000)),
                      min(end, base + int(w.end * 1000)), round(float(w.probability), 4))
                 for w in res.words if w.text.strip()]
        # Words that begin where the chunk's audio ends were not heard: the decoder ran on
        # into its padding (their times are clamped to the end, so they take no time).
        words = [w for w in words if w.start_ms < end]
        evidence = Evidence()
        evidence.add(n_tokens=res.n_new_tokens, avg_logprob=res.avg_logprob,
                     no_speech_prob=res.no_speech_prob, language=res.language,
                     language_probability=res.language_probability)
        words = cut_repetitions(words, lambda w: w.text, options.filters.min_repeats)
        words = cut_squeezed_copy(words, lambda w: w.text, lambda w: (w.start_ms, w.end_ms))
        words = drop_known_phrases(words, lambda w: w.text, lambda w: w.probability,
                                   options.filters)
        heard = words if words and max(w.probability for w in words) >= \
            options.filters.invented_probability else []
        words = clean_final(heard, lambda w: w.text, lambda w: w.probability, options.filters)
        if heard and not words and evidence.scores((), res.language).no_speech_prob <= \
                options.confidence.no_speech_prob:
            # Speech, but nothing usable in it (babble, a loop): the time and the mark only.
            segments.append(TranscriptEvent(
                "final", source_id, f"{source_id}#{len(segments) + 1}", heard[0].start_ms,
                max(heard[0].start_ms, heard[-1].end_ms), "", [], res.language,
                decoder.model.label, uncertain="unintelligible", scores=evidence.scores(
                    (w.probability for w in heard), res.language).as_dict()))
            continue
        for sentence in _sentences(words):
            if is_zero_length(sentence, lambda w: (w.start_ms, w.end_ms)):
                continue
            if segments and repeats_previous(segments[-1].words, sentence, lambda w: w.text,
                                             lambda w: w.probability, options.filters):
                continue
            scores = evidence.scores((w.probability for w in sentence), res.language)
            uncertain = judge(scores, confidence, res.language)
            kept = [] if uncertain == "unintelligible" else sentence
            segments.append(TranscriptEvent(
                "final", source_id, f"{source_id}#{len(segments) + 1}", sentence[0].start_ms,
                sentence[-1].end_ms, " ".join(w.text for w in kept), kept,
                res.language, decoder.model.label, committed=len(kept), uncertain=uncertain,
                scores=scores.as_dict()))
    if progress:
        progress(total_s, total_s)
    return segments


def _sentences(words: list[Word]) -> list[list[Word]]:
    out: list[list[Word]] = []
    current: list[Word] = []
    for w in words:
        current.append(w)
        if _SENTENCE_END.search(w.text):
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def transcribe_file(path: str | os.PathLike, language: str, *,
                    decoder: Decoder | None = None, model: LoadedModel | None = None,
                    options: OfflineOptions | None = None,
                    progress: Callable[[float, float], None] | None = None
                    ) -> list[TranscriptEvent]:
    """Transcribe any audio or video file PyAV can read (WAV, MP3, Opus, MP4, ...)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        audio = decode_audio(path, sampling_rate=SAMPLE_RATE)
    except Exception as exc:  # PyAV raises many kinds; the user needs one clear message
        raise ValueError(f"cannot read audio from {path}: {exc}") from exc
    return transcribe_audio(audio, language, decoder=decoder, model=model, options=options,
                            source_id=os.path.basename(path), progress=progress)
