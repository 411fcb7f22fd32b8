"""One batched Whisper pass: features, encoder, language choice, decoding, word alignment.

faster-whisper pads every window to 30 s, so a 3 s utterance pays the encoder cost of 30 s.
Here the audio is padded only to the next whole second (at least ``min_seconds``), so the
encoder cost follows the audio; committed words are fed as a forced prefix so that re-decoding
an open utterance only generates its unconfirmed tail."""

from __future__ import annotations

import string
import zlib
from dataclasses import dataclass, field

import ctranslate2
import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor
from faster_whisper.tokenizer import Tokenizer

from . import SAMPLE_RATE
from .languages import SUPPORTED, candidates
from .model import LoadedModel

HOP = 160  # samples per mel frame (10 ms)
FRAMES_PER_SECOND = 100
MAX_FRAMES = 3000  # Whisper's 30 s window
TOKENS_PER_SECOND = 50  # encoder positions per second (stride 2)
MAX_TEXT_CTX = 448  # Whisper's decoder context
MAX_PROMPT_TOKENS = 223  # Whisper's limit for the previous-text prompt (n_text_ctx // 2 - 1)
PREPEND_PUNCT = "\"'“¿([{-«"
APPEND_PUNCT = "\"'.。,，!！?？:：”)]}、»…"


@dataclass(frozen=True)
class DecodeOptions:
    """How one request is decoded. Defaults are the live-stream ones."""

    beam_size: int = 1
    min_seconds: float = 0.0  # pad the encoder input to at least this (30 = classic Whisper)
    tail_pad_seconds: float = 1.0  # silence after the audio: measured to help the last words
    max_new_tokens: int | None = None  # None: from the audio length (no runaway loops)
    word_timestamps: bool = True
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    suppress_blank: bool = True
    #: also tell Kazakh from Russian for a single-language source, so that speech in the other
    #: language is marked (one decoder step over the encoder output; ``kk+ru`` always does)
    detect_language: bool = True


@dataclass
class DecodeRequest:
    audio: np.ndarray  # float32 mono 16 kHz, starting at the utterance (or buffer) start
    language: str  # "ru", "kk" or "kk+ru" (then chosen between those two only)
    prompt: str = ""  # previous text and vocabulary, conditions the decoder
    prefix_tokens: list[int] = field(default_factory=list)  # forced: committed words
    options: DecodeOptions = field(default_factory=DecodeOptions)


@dataclass
class DecodedWord:
    text: str  # with its leading space, as Whisper writes it
    start: float  # seconds from the start of the request's audio
    end: float
    probability: float
    tokens: list[int]


@dataclass
class DecodeResult:
    language: str
    language_probability: float
    words: list[DecodedWord]  # the prefix's words first, then the new ones
    n_prefix_words: int
    text: str
    avg_logprob: float  # over the newly generated tokens (0 when none)
    no_speech_prob: float
    compression_ratio: float
    n_new_tokens: int


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


class Decoder:
    """Runs batches of ``DecodeRequest`` on one loaded model. Not thread-safe: the scheduler
    calls it from its single inference thread."""

    def __init__(self, model: LoadedModel):
        self.model = model
        self.whisper: ctranslate2.models.Whisper = model.whisper
        self.features = FeatureExtractor(feature_size=self.whisper.n_mels)
        self._tokenizers: dict[str, Tokenizer] = {}
        base = self.tokenizer("ru")
        self.eot = base.eot
        self.lang_token_ids = {code: base.tokenizer.token_to_id(f"<|{code}|>")
                               for code in ("ru", "kk")}
        self.suppress_tokens = sorted(set(base.non_speech_tokens) | {
            base.transcribe, base.translate, base.sot, base.sot_prev, base.sot_lm,
            base.no_speech})

    def tokenizer(self, language: str) -> Tokenizer:
        tok = self._tokenizers.get(language)
        if tok is None:
            tok = Tokenizer(self.model.hf_tokenizer, self.whisper.is_multilingual,
                            task="transcribe", language=language)
            self._tokenizers[language] = tok
        return tok

    # -- features and encoder -------------------------------------------------------------

    def padded_frames(self, n_samples: int, options: DecodeOptions) -> int:
        content = -(-n_samples // HOP) + int(options.tail_pad_seconds * FRAMES_PER_SECOND)
        frames = max(content, int(options.min_seconds * FRAMES_PER_SECOND))
        frames = -(-frames // FRAMES_PER_SECOND) * FRAMES_PER_SECOND  # whole seconds
        return min(max(frames, FRAMES_PER_SECOND), MAX_FRAMES)

    def mel(self, audio: np.ndarray, frames: int) -> np.ndarray:
        """Log-mel of ``audio`` padded with silence to ``frames`` (as Whisper pads to 30 s)."""
        audio = audio[: frames * HOP].astype(np.float32, copy=False)
        padded = np.zeros(frames * HOP, dtype=np.float32)
        padded[: len(audio)] = audio
        return self.features(padded, padding=0)[:, :frames]

    # -- one batch ------------------------------------------------------------------------

    def decode(self, requests: list[DecodeRequest]) -> list[DecodeResult]:
        if not requests:
            return []
        frames = max(self.padded_frames(len(r.audio), r.options) for r in requests)
        mels = np.stack([self.mel(r.audio, frames) for r in requests])
        encoded = self.whisper.encode(ctranslate2.StorageView.from_array(
            np.ascontiguousarray(mels)), to_cpu=True)
        enc = np.array(encoded)  # [batch, frames // 2, d_model], to regroup per language
        langs = self._choose_languages(requests, encoded)
        results: list[DecodeResult | None] = [None] * len(requests)
        # Requests that share language and decoding options run as one generate() call.
        groups: dict[tuple, list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault((langs[i][0], r.options.beam_size, r.options.repetition_penalty,
                               r.options.no_repeat_ngram_size), []).append(i)
        for (lang, beam, rep, ngram), members in groups.items():
            tok = self.tokenizer(lang)
            prev = {i: self._previous_tokens(tok, requests[i]) for i in members}
            for idx, keep in _same_prompt_length(members, prev):
                # The whole encoder batch serves only when the group is every request *in
                # order*: groups are sorted by prompt length, and a permuted batch would give
                # one source's audio to another's prompt.
                sub = encoded if idx == list(range(len(requests))) else \
                    ctranslate2.StorageView.from_array(np.ascontiguousarray(enc[idx]))
                prompts = [self._prompt_tokens(tok, requests[i], prev[i][-keep:] if keep else [])
                           for i in idx]
                for i, res in zip(idx, self._decode_group(
                        [requests[i] for i in idx], prompts, sub, lang, beam, rep, ngram)):
                    res.language_probability = langs[i][1]
                    results[i] = res
        return results  # type: ignore[return-value]

    def _choose_languages(self, requests, encoded) -> list[tuple[str, float]]:
        out: list[tuple[str, float] | None] = [None] * len(requests)
        need = [i for i, r in enumerate(requests)
                if len(candidates(r.language)) > 1 or r.options.detect_language]
        for i, r in enumerate(requests):
            if i not in need:
                out[i] = (candidates(r.language)[0], 1.0)
        if need:
            sub = encoded if len(need) == len(requests) else ctranslate2.StorageView.from_array(
                np.ascontiguousarray(np.array(encoded)[need]))
            detected = self.whisper.detect_language(sub)
            for i, probs in zip(need, detected):
                allowed = candidates(requests[i].language)
                # The probability is always Kazakh against Russian: for a single-language
                # source it says how likely the speech is in the language it is decoded in.
                scores = {tok[2:-2]: p for tok, p in probs if tok[2:-2] in SUPPORTED}
                total = sum(scores.values())
                best = max(allowed, key=lambda c: scores.get(c, 0.0))
                out[i] = (best, scores.get(best, 0.0) / total if total else 0.5)
        return out  # type: ignore[return-value]

    def _previous_tokens(self, tok: Tokenizer, r: DecodeRequest) -> list[int]:
        if not r.prompt.strip():
            return []
        return tok.encode(" " + r.prompt.strip())[-MAX_PROMPT_TOKENS:]

    def _prompt_tokens(self, tok: Tokenizer, r: DecodeRequest, previous: list[int]) -> list[int]:
        prompt = [tok.sot_prev, *previous] if previous else []
        return [*prompt, *tok.sot_sequence, tok.no_timestamps, *r.prefix_tokens]

    def _decode_group(self, reqs, prompts, encoded, lang, beam, rep, ngram
                      ) -> list[DecodeResult]:
        tok = self.tokenizer(lang)
        max_new = max(r.options.max_new_tokens or _max_tokens_for(len(r.audio)) for r in reqs)
        # CTranslate2 decodes at most min(max_length / 2, max_length - len(prompt before the
        # text)) steps, and each forced prefix token is one of those steps.
        steps = max(len(r.prefix_tokens) for r in reqs) + max_new + 1
        max_length = min(MAX_TEXT_CTX, max(max(len(p) for p in prompts) + max_new, 2 * steps))
        gen = self.whisper.generate(
            encoded, prompts, beam_size=beam, max_length=max_length,
            return_scores=True, return_no_speech_prob=True, suppress_blank=reqs[0].options.suppress_blank,
            suppress_tokens=self.suppress_tokens, repetition_penalty=rep,
            no_repeat_ngram_size=ngram)
        results = []
        texts_tokens = []
        for r, g, p in zip(reqs, gen, prompts):
            seq = list(g.sequences_ids[0])
            if r.prefix_tokens and seq[:len(r.prefix_tokens)] == list(r.prefix_tokens):
                seq = seq[len(r.prefix_tokens):]  # CTranslate2 returns the forced prefix too
            new = [t for t in seq if t < self.eot]
            cap = r.options.max_new_tokens or _max_tokens_for(len(r.audio))
            new = new[:cap]
            texts_tokens.append(list(r.prefix_tokens) + new)
            n = len(seq)  # the score is normalised over the generated tokens
            avg = g.scores[0] * len(g.sequences_ids[0]) / (n + 1) if n else 0.0
            results.append((new, avg, g.no_speech_prob))
        aligned = self._align(tok, reqs, encoded, texts_tokens)
        out = []
        for r, (new, avg, nsp), words, all_tokens in zip(reqs, results, aligned, texts_tokens):
            n_prefix = _count_prefix_words(words, len(r.prefix_tokens))
            text = tok.decode(new).strip()
            out.append(DecodeResult(
                language=lang, language_probability=1.0, words=words, n_prefix_words=n_prefix,
                text=tok.decode(all_tokens).strip(), avg_logprob=float(avg),
                no_speech_prob=float(nsp), compression_ratio=compression_ratio(text),
                n_new_tokens=len(new)))
        return out

    def _align(self, tok: Tokenizer, reqs, encoded, texts_tokens) -> list[list[DecodedWord]]:
        idx = [i for i, t in enumerate(texts_tokens) if t]
        out: list[list[DecodedWord]] = [[] for _ in reqs]
        if not idx:
            return out
        want_times = any(reqs[i].options.word_timestamps for i in idx)
        if not want_times:
            for i in idx:
                out[i] = [DecodedWord(w, 0.0, 0.0, 1.0, t)
                          for w, t in zip(*_words(tok, texts_tokens[i]))]
            return out
        sub = encoded if len(idx) == len(reqs) else ctranslate2.StorageView.from_array(
            np.ascontiguousarray(np.array(encoded)[idx]))
        frames = [max(1, min(-(-len(reqs[i].audio) // HOP), MAX_FRAMES)) for i in idx]
        res = self.whisper.align(sub, tok.sot_sequence, [texts_tokens[i] for i in idx], frames,
                                 median_filter_width=7)
        for i, a in zip(idx, res):
            out[i] = _words_with_times(tok, texts_tokens[i], a)
        return out


def _same_prompt_length(members: list[int], prev: dict[int, list[int]]
                        ) -> list[tuple[list[int], int]]:
    """CTranslate2 needs <|startoftranscript|> at the same position in every prompt of a
    batch: group requests whose previous text has similar length and keep, for each group, as
    many of the most recent tokens as its shortest member has (a request without previous text
    goes with the others that have none)."""
    order = sorted(members, key=lambda i: len(prev[i]))
    groups: list[tuple[list[int], int]] = []
    for i in order:
        n = len(prev[i])
        if groups:
            idx, keep = groups[-1]
            if (keep == 0) == (n == 0) and (n == 0 or keep >= 0.6 * n):
                idx.append(i)
                continue
        groups.append(([i], n))
    return groups


def _max_tokens_for(n_samples: int) -> int:
    """Generous bound on tokens for this much speech: stops repetition loops early."""
    return int(10 + 8 * n_samples / SAMPLE_RATE)


def _words(tok: Tokenizer, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
    words, word_tokens = tok.split_to_word_tokens(tokens)
    # Glue punctuation to its neighbour so that a "word" is what a reader sees.
    merged_w: list[str] = []
    merged_t: list[list[int]] = []
    pending_w, pending_t = "", []
    for w, t in zip(words, word_tokens):
        s = w.strip()
        if s and all(ch in PREPEND_PUNCT for ch in s) and w.startswith(" "):
            pending_w, pending_t = pending_w + w, pending_t + t
            continue
        if merged_w and s and all(ch in APPEND_PUNCT or ch in string.punctuation for ch in s) \
                and not w.startswith(" ") and not pending_w:
            merged_w[-1] += w
            merged_t[-1] = merged_t[-1] + t
            continue
        if pending_w:
            w = pending_w + w.lstrip() if w.startswith(" ") else pending_w + w
            t = pending_t + t
            pending_w, pending_t = "", []
        merged_w.append(w)
        merged_t.append(t)
    if pending_w:
        merged_w.append(pending_w)
        merged_t.append(pending_t)
    return merged_w, merged_t


def _words_with_times(tok: Tokenizer, tokens: list[int], align) -> list[DecodedWord]:
    words, word_tokens = _words(tok, tokens)
    if not words:
        return []
    probs = list(align.text_token_probs)
    text_idx = np.array([p[0] for p in align.alignments])
    time_idx = np.array([p[1] for p in align.alignments])
    if len(text_idx) == 0:
        return [DecodedWord(w, 0.0, 0.0, 0.0, t) for w, t in zip(words, word_tokens)]
    jumps = np.pad(np.diff(text_idx), (1, 0), constant_values=1).astype(bool)
    jump_times = time_idx[jumps] / TOKENS_PER_SECOND
    bounds = np.cumsum([0] + [len(t) for t in word_tokens])
    out = []
    for k, (w, t) in enumerate(zip(words, word_tokens)):
        a, b = int(bounds[k]), int(bounds[k + 1])
        start = float(jump_times[min(a, len(jump_times) - 1)])
        end = float(jump_times[min(b, len(jump_times) - 1)]) if b < len(jump_times) else \
            float(jump_times[-1])
        p = float(np.mean(probs[a:b])) if b > a and probs[a:b] else 0.0
        out.append(DecodedWord(w, start, max(end, start), p, list(t)))
    return out


def _count_prefix_words(words: list[DecodedWord], n_prefix_tokens: int) -> int:
    n = used = 0
    for w in words:
        if used >= n_prefix_tokens:
            break
        used += len(w.tokens)
        n += 1
    return n

