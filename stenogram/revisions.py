"""The revision chain: every change to the transcript, machine or human, as a hash-linked log.

The chain starts with the machine's own segments (kind ``asr``) and continues with the
secretary's corrections (``edit_text``, ``set_speaker``, ``split``, ``merge``, ``restore``). A
second model's reading of a segment is a ``proposal`` (author ``asr:<model>``): it changes no
text until the secretary accepts it (an ``edit_text`` naming the proposal) or rejects it (a
``reject_proposal``). Each revision records who, when and why, and the SHA-256 of the revision
before it; its own hash is taken over its canonical JSON. Entries are never changed, so the
machine's original text stays in the chain for ever; the current transcript is a fold over the
chain.

A revision stores its *result* (the segments it removes and the segments it puts), not just the
intent: re-estimated word timings are part of the record, so a verifier years later replays the
fold without needing this version of the timing estimator."""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from .canonical import canonical_sha256
from .segments import Segment, SegmentError, Word, chronological, new_segment_id

GENESIS = "0" * 64
MACHINE_KINDS = {"asr"}
EDIT_KINDS = {"edit_text", "set_speaker", "split", "merge", "restore"}
#: Revisions that change no segment: a second model's proposed text, and its rejection.
PROPOSAL_KINDS = {"proposal", "reject_proposal"}


class RevisionError(ValueError):
    """A revision that cannot apply (unknown segment, empty text, broken chain)."""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Revision:
    seq: int
    kind: str
    author: str
    at: str
    reason: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "author": self.author, "at": self.at,
                "reason": self.reason, "payload": self.payload, "prev_hash": self.prev_hash}

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Revision":
        return cls(int(d["seq"]), str(d["kind"]), str(d["author"]), str(d["at"]),
                   str(d.get("reason", "")), dict(d["payload"]), str(d["prev_hash"]),
                   str(d["hash"]))


def make_revision(prev: Revision | None, kind: str, *, author: str, reason: str,
                  payload: dict[str, Any], at: str | None = None) -> Revision:
    if kind not in MACHINE_KINDS | EDIT_KINDS | PROPOSAL_KINDS:
        raise RevisionError(f"unknown revision kind {kind!r}")
    if kind in EDIT_KINDS | PROPOSAL_KINDS and not author:
        raise RevisionError("a correction needs an author")
    seq = 0 if prev is None else prev.seq + 1
    prev_hash = GENESIS if prev is None else prev.hash
    body = {"seq": seq, "kind": kind, "author": author, "at": at or utc_now(),
            "reason": reason or "", "payload": payload, "prev_hash": prev_hash}
    return Revision(**body, hash=canonical_sha256(body))


# ---------------------------------------------------------------- word timing re-estimation

_PUNCT = re.compile(r"[\W_]+", re.UNICODE)


def _key(token: str) -> str:
    """Comparison key for aligning words: case, punctuation and Unicode form ignored, so a
    corrected comma or capital keeps the word's recorded timing."""
    k = _PUNCT.sub("", unicodedata.normalize("NFC", token).casefold())
    return k or token


def _spread(tokens: list[str], t0: int, t1: int) -> list[Word]:
    """Estimated timings for typed words: the span [t0, t1] shared in proportion to length."""
    if t1 < t0:
        t1 = t0
    weights = [len(t) + 1 for t in tokens]
    total = sum(weights) or 1
    out, acc = [], 0
    for tok, w in zip(tokens, weights):
        a = t0 + (t1 - t0) * acc // total
        acc += w
        b = t0 + (t1 - t0) * acc // total
        out.append(Word(tok, a, b, None))
    return out


def retime_words(old: Iterable[Word], new_text: str, start_ms: int, end_ms: int) -> tuple[Word, ...]:
    """One word per whitespace token of ``new_text``. Words that survive the edit keep their
    recorded timing (and probability if unchanged); edited or inserted spans get times
    estimated from their neighbours, so a click on any word still plays about the right moment."""
    old = list(old)
    tokens = new_text.split()
    if not old:
        return tuple(_spread(tokens, start_ms, end_ms))
    old_keys = [_key(w.text.strip()) for w in old]
    new_keys = [_key(t) for t in tokens]
    out: list[Word] = []
    sm = difflib.SequenceMatcher(None, old_keys, new_keys, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            for w, tok in zip(old[i1:i2], tokens[j1:j2]):
                same = w.text.strip() == tok
                out.append(Word(tok, w.start_ms, w.end_ms, w.probability if same else None))
        elif op == "delete":
            continue
        else:
            if op == "replace":
                t0, t1 = old[i1].start_ms, old[i2 - 1].end_ms
            else:  # insert between old[i1-1] and old[i1]
                t0 = old[i1 - 1].end_ms if i1 > 0 else start_ms
                t1 = old[i1].start_ms if i1 < len(old) else end_ms
            if out:
                t0 = max(t0, out[-1].end_ms)
            out.extend(_spread(tokens[j1:j2], t0, max(t0, t1)))
    return tuple(out)


# ---------------------------------------------------------------- the fold

def apply_revision(state: dict[str, Segment], rev: Revision) -> None:
    """Apply one revision's result to ``state`` (segment_id -> Segment), checking that it is
    consistent with the state it claims to change."""
    p = rev.payload
    if rev.kind in PROPOSAL_KINDS:
        if p.get("put") or p.get("remove"):
            raise RevisionError(f"revision {rev.seq}: a {rev.kind} changes no segment")
        if rev.kind == "proposal" and p.get("segment_id") not in state:
            raise RevisionError(f"revision {rev.seq} proposes text for unknown segment")
        return
    removes = list(p.get("remove") or [])
    puts = [Segment.from_dict(d) for d in p.get("put") or []]
    for sid in removes:
        if sid not in state:
            raise RevisionError(f"revision {rev.seq} removes unknown segment {sid}")
        del state[sid]
    creates = rev.kind in ("asr", "split", "merge")
    for seg in puts:
        if creates and seg.segment_id in state:
            raise RevisionError(f"revision {rev.seq} creates existing segment {seg.segment_id}")
        if not creates and seg.segment_id not in state:
            raise RevisionError(f"revision {rev.seq} changes unknown segment {seg.segment_id}")
        if rev.kind == "asr" and seg.origin != "asr":
            raise RevisionError(f"revision {rev.seq}: machine segment with origin {seg.origin}")
        state[seg.segment_id] = seg


def fold(revisions: Iterable[Revision], upto: int | None = None) -> dict[str, Segment]:
    """The transcript after revisions[0..upto] (all of them when upto is None)."""
    state: dict[str, Segment] = {}
    for rev in revisions:
        if upto is not None and rev.seq > upto:
            break
        apply_revision(state, rev)
    return state


def chain_problems(revisions: list[Revision]) -> list[str]:
    """Everything wrong with a chain: bad hash, broken link, seq gap, inconsistent fold."""
    return check_and_fold(revisions)[0]


def check_and_fold(revisions: list[Revision], snapshot_after: Iterable[int] = (),
                   ) -> tuple[list[str], dict[str, Segment], dict[int, list[Segment]]]:
    """chain_problems and the folded state, in one pass; also the transcript (chronological)
    after each revision count in ``snapshot_after`` (what each version says it was built from).
    A count the fold could not reach is absent from the snapshots."""
    wanted = set(snapshot_after)
    snapshots: dict[int, list[Segment]] = {}
    broken = False
    problems: list[str] = []
    prev_hash = GENESIS
    state: dict[str, Segment] = {}
    for i, rev in enumerate(revisions):
        if rev.seq != i:
            problems.append(f"revision at position {i} has seq {rev.seq}")
        if rev.prev_hash != prev_hash:
            problems.append(f"revision {rev.seq} does not link to the revision before it")
        if canonical_sha256(rev.body()) != rev.hash:
            problems.append(f"revision {rev.seq} hash does not match its content")
        try:
            apply_revision(state, rev)
        except (RevisionError, SegmentError, KeyError, TypeError, ValueError) as e:
            problems.append(str(e))
            broken = True
        if not broken and i + 1 in wanted:
            snapshots[i + 1] = chronological(list(state.values()))
        prev_hash = rev.hash
    return problems, state, snapshots


# ---------------------------------------------------------------- the transcript

class Transcript:
    """The revision chain of one hearing plus its folded current state.

    Persistence-agnostic: each method returns the new Revision (store ``rev.to_dict()``);
    rebuild with ``Transcript.from_dicts(rows)`` after a restart. Not thread-safe: the server
    serialises appends per hearing (one chain, one writer)."""

    def __init__(self) -> None:
        self.revisions: list[Revision] = []
        self.state: dict[str, Segment] = {}

    @classmethod
    def from_revisions(cls, revisions: Iterable[Revision], *, check: bool = True) -> "Transcript":
        t = cls()
        t.revisions = list(revisions)
        if check:
            problems, t.state, _ = check_and_fold(t.revisions)
            if problems:
                raise RevisionError("; ".join(problems[:5]))
        else:
            t.state = fold(t.revisions)
        return t

    @classmethod
    def from_dicts(cls, rows: Iterable[Mapping[str, Any]], *, check: bool = True) -> "Transcript":
        return cls.from_revisions((Revision.from_dict(r) for r in rows), check=check)

    # -- reading
    @property
    def head_hash(self) -> str:
        return self.revisions[-1].hash if self.revisions else GENESIS

    def head(self) -> dict[str, Any]:
        """What a version commits to: how many revisions and the hash of the last one."""
        return {"count": len(self.revisions), "head_hash": self.head_hash}

    def segments(self) -> list[Segment]:
        return chronological(list(self.state.values()))

    def segment(self, segment_id: str) -> Segment:
        try:
            return self.state[segment_id]
        except KeyError:
            raise RevisionError(f"no current segment {segment_id!r}") from None

    def history(self, segment_id: str) -> list[Revision]:
        """Revisions that created or changed this segment or (through split/merge) its parents,
        oldest first: the machine's original is the first entry."""
        wanted = {segment_id}
        out: list[Revision] = []
        for rev in reversed(self.revisions):
            touched = set(rev.payload.get("remove") or []) | {
                d["segment_id"] for d in rev.payload.get("put") or []}
            if touched & wanted:
                out.append(rev)
                for d in rev.payload.get("put") or []:
                    if d["segment_id"] in wanted:
                        wanted |= set(d.get("parents") or [])
        return list(reversed(out))

    def history_view(self, segment_id: str) -> list[dict[str, Any]]:
        """The history of a segment for people: each revision with who, when, why, and the
        text and speaker before and after it (the first entry is the machine's original)."""
        out = []
        state: dict[str, Segment] = {}
        wanted = {r.seq for r in self.history(segment_id)}
        for rev in self.revisions:
            if rev.seq not in wanted:
                apply_revision(state, rev)
                continue
            before = [state[s].to_dict() for s in (rev.payload.get("remove") or [])
                      if s in state] + [state[d["segment_id"]].to_dict()
                                        for d in rev.payload.get("put") or []
                                        if d["segment_id"] in state]
            apply_revision(state, rev)
            after = list(rev.payload.get("put") or [])
            out.append({"seq": rev.seq, "kind": rev.kind, "author": rev.author, "at": rev.at,
                        "reason": rev.reason, "hash": rev.hash, "prev_hash": rev.prev_hash,
                        "before": [{"segment_id": d["segment_id"], "text": d["text"],
                                    "speaker": d["speaker"]} for d in before],
                        "after": [{"segment_id": d["segment_id"], "text": d["text"],
                                   "speaker": d["speaker"]} for d in after]})
        return out

    def state_at(self, seq: int) -> dict[str, Segment]:
        if not 0 <= seq < len(self.revisions):
            raise RevisionError(f"no revision {seq}")
        return fold(self.revisions, upto=seq)

    # -- writing
    def _append(self, kind: str, *, author: str, reason: str, payload: dict[str, Any],
                at: str | None) -> Revision:
        prev = self.revisions[-1] if self.revisions else None
        rev = make_revision(prev, kind, author=author, reason=reason, payload=payload, at=at)
        apply_revision(self.state, rev)  # raises before the chain is touched
        self.revisions.append(rev)
        return rev

    def add_machine_segment(self, seg: Segment, *, at: str | None = None) -> Revision:
        """Record an asr final. The author is the model, the reason empty."""
        if seg.origin != "asr":
            raise RevisionError("machine segments have origin 'asr'")
        return self._append("asr", author=f"asr:{seg.model or 'unknown'}", reason="",
                            payload={"put": [seg.to_dict()]}, at=at)

    def edit_text(self, segment_id: str, text: str, *, author: str, reason: str = "",
                  at: str | None = None) -> Revision:
        seg = self.segment(segment_id)
        text = text.strip()
        if not text:
            raise RevisionError("empty text: delete is not a correction; merge or keep it")
        if text == seg.text:
            raise RevisionError("text unchanged")
        words = retime_words(seg.words, text, seg.start_ms, seg.end_ms)
        # the secretary has checked the text against the recording: no longer uncertain
        new = _replace(seg, text=text, words=words, origin="edit_text", uncertain="")
        return self._append("edit_text", author=author, reason=reason, at=at,
                            payload={"segment_id": segment_id, "put": [new.to_dict()]})

    # -- a second model's proposals
    def propose(self, segment_id: str, text: str, words: Iterable[Word], *, model: str,
                at: str | None = None) -> Revision:
        """Another model's reading of a segment's time span; the segment is unchanged."""
        seg = self.segment(segment_id)
        text = text.strip()
        if not text or text == seg.text:
            raise RevisionError("a proposal needs other, non-empty text")
        return self._append("proposal", author=f"asr:{model}", reason="", at=at, payload={
            "segment_id": segment_id, "text": text, "based_on": seg.text,
            "words": [w.to_list() for w in words]})

    def proposals(self) -> list[Revision]:
        """Proposals still to decide: neither accepted nor rejected, and their segment still
        has the text they were made against."""
        decided = {r.payload.get("proposal_seq") for r in self.revisions
                   if r.kind in ("reject_proposal", "edit_text")}
        return [r for r in self.revisions if r.kind == "proposal" and r.seq not in decided
                and (seg := self.state.get(r.payload["segment_id"])) is not None
                and seg.text == r.payload["based_on"]]

    def _pending(self, proposal_seq: int) -> Revision:
        for r in self.proposals():
            if r.seq == proposal_seq:
                return r
        raise RevisionError(f"no open proposal {proposal_seq}")

    def accept_proposal(self, proposal_seq: int, *, author: str,
                        at: str | None = None) -> Revision:
        """The proposal's text (and the model's word times) as the secretary's correction."""
        prop = self._pending(proposal_seq)
        seg = self.segment(prop.payload["segment_id"])
        words = tuple(Word.from_any(w) for w in prop.payload["words"])
        if [w.text for w in words] != prop.payload["text"].split():
            words = retime_words(seg.words, prop.payload["text"], seg.start_ms, seg.end_ms)
        new = _replace(seg, text=prop.payload["text"], words=words, origin="edit_text",
                       uncertain="")
        return self._append("edit_text", author=author, at=at,
                            reason=f"accepted the reading of {prop.author}",
                            payload={"segment_id": seg.segment_id, "proposal_seq": prop.seq,
                                     "put": [new.to_dict()]})

    def reject_proposal(self, proposal_seq: int, *, author: str, reason: str = "",
                        at: str | None = None) -> Revision:
        prop = self._pending(proposal_seq)
        return self._append("reject_proposal", author=author, reason=reason, at=at,
                            payload={"segment_id": prop.payload["segment_id"],
                                     "proposal_seq": prop.seq})

    def set_speaker(self, segment_id: str, speaker: str | None, *, author: str,
                    reason: str = "", at: str | None = None) -> Revision:
        seg = self.segment(segment_id)
        if speaker == seg.speaker:
            raise RevisionError("speaker unchanged")
        new = _replace(seg, speaker=speaker, origin="set_speaker")
        return self._append("set_speaker", author=author, reason=reason, at=at,
                            payload={"segment_id": segment_id, "put": [new.to_dict()]})

    def split(self, segment_id: str, at_word: int, *, author: str, reason: str = "",
              at: str | None = None, new_ids: tuple[str, str] | None = None) -> Revision:
        """Split before the ``at_word``-th whitespace token of the current text."""
        seg = self.segment(segment_id)
        spans = [m.start() for m in re.finditer(r"\S+", seg.text)]
        if not 0 < at_word < len(spans):
            raise RevisionError(f"split point {at_word} must be inside 1..{len(spans) - 1}")
        left, right = seg.text[:spans[at_word]].rstrip(), seg.text[spans[at_word]:].strip()
        words = retime_words(seg.words, seg.text, seg.start_ms, seg.end_ms)
        lw, rw = words[:at_word], words[at_word:]
        a_id, b_id = new_ids or (new_segment_id(), new_segment_id())
        a = _replace(seg, segment_id=a_id, text=left, words=lw, start_ms=seg.start_ms,
                     end_ms=max(seg.start_ms, lw[-1].end_ms), origin="split",
                     parents=(segment_id,))
        b = _replace(seg, segment_id=b_id, text=right, words=rw,
                     start_ms=min(seg.end_ms, rw[0].start_ms), end_ms=seg.end_ms,
                     origin="split", parents=(segment_id,))
        return self._append("split", author=author, reason=reason, at=at, payload={
            "segment_id": segment_id, "at_word": at_word,
            "remove": [segment_id], "put": [a.to_dict(), b.to_dict()]})

    def merge(self, segment_ids: list[str], *, author: str, reason: str = "",
              at: str | None = None, new_id: str | None = None) -> Revision:
        """Join segments of one source into one (text in chronological order)."""
        if len(segment_ids) < 2 or len(set(segment_ids)) != len(segment_ids):
            raise RevisionError("merge needs two or more distinct segments")
        segs = chronological([self.segment(s) for s in segment_ids])
        if len({s.source_id for s in segs}) != 1:
            raise RevisionError("merge joins segments of one source (one recording) only")
        first = segs[0]
        words = tuple(w for s in segs for w in retime_words(s.words, s.text, s.start_ms, s.end_ms))
        m = _replace(first, segment_id=new_id or new_segment_id(),
                     text=" ".join(s.text for s in segs), words=words,
                     start_ms=min(s.start_ms for s in segs), end_ms=max(s.end_ms for s in segs),
                     origin="merge", parents=tuple(s.segment_id for s in segs),
                     uncertain=next((s.uncertain for s in segs if s.uncertain), ""))
        return self._append("merge", author=author, reason=reason, at=at, payload={
            "segment_ids": [s.segment_id for s in segs],
            "remove": [s.segment_id for s in segs], "put": [m.to_dict()]})

    def restore(self, segment_id: str, to_seq: int, *, author: str, reason: str = "",
                at: str | None = None) -> Revision:
        """Bring a segment back to what it was right after revision ``to_seq`` (a new revision;
        nothing is removed from the history)."""
        current = self.segment(segment_id)
        old = self.state_at(to_seq).get(segment_id)
        if old is None:
            raise RevisionError(f"segment {segment_id} did not exist at revision {to_seq}")
        if old == current:
            raise RevisionError("segment already has that content")
        return self._append("restore", author=author, reason=reason, at=at, payload={
            "segment_id": segment_id, "to_seq": to_seq, "put": [old.to_dict()]})


def _replace(seg: Segment, **changes: Any) -> Segment:
    from dataclasses import replace
    return replace(seg, **changes)
