"""Redacted copies of a signed stenogram version, and the check that a copy differs from its
original only inside the spans it declares.

A redaction is declared as spans, each with its legal ground (``reason``):

    {"kind": "segment", "segment_id": ...}                      the whole segment
    {"kind": "words", "segment_id": ..., "start": i, "end": j}  words i..j-1 of a segment
    {"kind": "time", "start_ms": a, "end_ms": b[, "source_id"]} a hearing-clock range [a, b),
                                                                of every source or of one
    {"kind": "evidence", "evidence_id": n}                      an evidence item

``redact(version_doc, spans)`` derives the redacted document: every affected word keeps its
timing and becomes the mark ("[изъято]", Kazakh segments "[алынып тасталды]"), a segment's
text is rebuilt from its words with one mark per run of redacted words (a whole segment, or one
whose corrected text no longer matches its words, becomes the mark), notes inside a time range
and withheld evidence lose their text, recordings overlapping a silenced range are replaced by
their derived copies (or marked withheld). The document keeps the version's form (so the
protocol renders from it as from any version), carries ``redacts`` (the original's SHA-256 and
number) and ``redaction`` (the spans), and is canonical JSON, hashed and signed like a version.

``check_redaction(original, redacted)`` re-derives the copy from the original and the spans the
copy declares, and names every place where the copy differs: a difference the spans do not
explain is outside them. It needs nothing but the two documents, so ``courtroom verify`` runs it
offline. The audio of derived recordings is checked by ``media.redaction`` (which needs PyAV);
``audio_ranges`` says which hearing-clock ranges each recording may differ in.

The redacted bundle (``write_redacted_bundle``) is its own small zip: the redacted document,
its signatures, the public keys, the derived recordings and the rendered documents; never the
revision chain or the audit rows, which hold the original text."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import zipfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .canonical import canonical_bytes, canonical_sha256
from .revisions import utc_now
from .signing import unb64, verify_signature
from .version import SIGNATURE_FORMAT, SIGNING_ORDER, StenogramVersion, version_problems

MARK = "[изъято]"
MARK_KK = "[алынып тасталды]"
SPAN_KINDS = ("segment", "words", "time", "evidence")
REDACTED_BUNDLE_FORMAT = "courtroom-redacted-bundle/1"
REDACTED_MEMBER = "redacted.json"
SIGNATURES_MEMBER = "signatures.json"
MAX_REASON = 500


class RedactionError(ValueError):
    """A span that cannot be applied to this version (unknown segment, bad range, no reason)."""


def mark_for(language: str | None) -> str:
    """The mark in the segment's language: Kazakh text gets the Kazakh mark."""
    return MARK_KK if (language or "").startswith("kk") else MARK


# ---------------------------------------------------------------- spans

def _int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise RedactionError(f"{what} must be an integer")
    return v


def normalise_spans(doc: Mapping[str, Any], spans: Iterable[Mapping[str, Any]]) -> list[dict]:
    """The spans as stored: only known keys, checked against the version (every segment and
    evidence item named exists, word and time ranges are non-empty and inside their bounds),
    in a stable order. Raises RedactionError for the first span that does not fit."""
    segs = {s["segment_id"]: s for s in doc.get("segments") or []}
    evidence = {e.get("evidence_id") for e in doc.get("evidence") or []}
    out: list[dict] = []
    for i, sp in enumerate(spans):
        where = f"span {i + 1}"
        kind = sp.get("kind")
        reason = sp.get("reason")
        if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
            raise RedactionError(f"{where}: a redaction needs its reason (legal ground)")
        if kind == "segment" or kind == "words":
            sid = sp.get("segment_id")
            if sid not in segs:
                raise RedactionError(f"{where}: no segment {sid!r} in version "
                                     f"{doc.get('number')}")
            d: dict[str, Any] = {"kind": kind, "segment_id": sid}
            if kind == "words":
                start, end = _int(sp.get("start"), f"{where} start"), _int(sp.get("end"),
                                                                             f"{where} end")
                n = len(segs[sid].get("words") or [])
                if not 0 <= start < end <= n:
                    raise RedactionError(f"{where}: words {start}..{end} are not within the "
                                         f"segment's {n} words")
                d.update(start=start, end=end)
        elif kind == "time":
            a, b = _int(sp.get("start_ms"), f"{where} start_ms"), _int(sp.get("end_ms"),
                                                                       f"{where} end_ms")
            if not 0 <= a < b:
                raise RedactionError(f"{where}: the time range must be non-empty")
            d = {"kind": kind, "start_ms": a, "end_ms": b}
            if sp.get("source_id") is not None:
                d["source_id"] = str(sp["source_id"])
        elif kind == "evidence":
            eid = sp.get("evidence_id")
            if eid not in evidence or eid is None:
                raise RedactionError(f"{where}: no evidence {eid!r} in version "
                                     f"{doc.get('number')}")
            d = {"kind": kind, "evidence_id": eid}
        else:
            raise RedactionError(f"{where}: kind must be one of {', '.join(SPAN_KINDS)}")
        d["reason"] = reason.strip()
        out.append(d)
    if not out:
        raise RedactionError("a redaction needs at least one span")
    return out


def transcript_source(recording_source: str | None) -> str | None:
    """A recording's source as the transcript names it: a seat's recorder writes
    ``seat.judge`` for the transcript's ``seat:judge``; remote participants' ids are the same
    in both."""
    if recording_source and recording_source.startswith("seat."):
        return "seat:" + recording_source[5:]
    return recording_source


def _overlaps(a0: int, a1: int, b0: int, b1: int) -> bool:
    return a0 < b1 and b0 < a1


def _time_spans(spans: Sequence[Mapping[str, Any]], source_id: str | None = None) -> list[tuple]:
    return [(s["start_ms"], s["end_ms"]) for s in spans if s["kind"] == "time"
            and (source_id is None or s.get("source_id") in (None, source_id))]


def _covered_words(seg: Mapping[str, Any], spans: Sequence[Mapping[str, Any]]) -> set[int]:
    words = seg.get("words") or []
    out: set[int] = set()
    for s in spans:
        if s["kind"] == "words" and s["segment_id"] == seg["segment_id"]:
            out.update(range(s["start"], s["end"]))
    for a, b in _time_spans(spans, seg.get("source_id")):
        out.update(i for i, w in enumerate(words) if _overlaps(int(w[1]), int(w[2]), a, b))
    return out


def _whole(seg: Mapping[str, Any], spans: Sequence[Mapping[str, Any]]) -> bool:
    if any(s["kind"] == "segment" and s["segment_id"] == seg["segment_id"] for s in spans):
        return True
    # a segment without words (unintelligible, or typed in) is redacted whole when a range
    # touches it: there is nothing finer to cut by
    return not seg.get("words") and any(
        _overlaps(seg["start_ms"], seg["end_ms"], a, b)
        for a, b in _time_spans(spans, seg.get("source_id")))


def _joined(texts: Sequence[str]) -> str:
    """Words as the recogniser spells them: with their own leading spaces, or none at all."""
    if any(t[:1].isspace() for t in texts):
        return "".join(texts).strip()
    return " ".join(t.strip() for t in texts)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _redact_segment(seg: dict[str, Any], spans: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    mark = mark_for(seg.get("language"))
    if _whole(seg, spans):
        return {**seg, "text": mark, "words": [[mark, *w[1:]] for w in seg.get("words") or []]}
    covered = _covered_words(seg, spans)
    if not covered:
        return seg
    words = seg.get("words") or []
    texts = [str(w[0]) for w in words]
    new_words = [[mark, *w[1:]] if i in covered else list(w) for i, w in enumerate(words)]
    if _squash(_joined(texts)) != _squash(seg.get("text") or ""):
        # the secretary corrected the text after the words were heard: the words no longer
        # say where in the text they are, so the whole text goes
        return {**seg, "text": mark, "words": new_words}
    lead = any(t[:1].isspace() for t in texts)
    parts: list[str] = []
    for i, t in enumerate(texts):
        if i in covered:
            if i - 1 in covered:
                continue
            t = (" " if lead and i else "") + mark
        parts.append(t)
    return {**seg, "text": _joined(parts), "words": new_words}


def recording_ranges(entry: Mapping[str, Any], segments: Sequence[Mapping[str, Any]],
                     spans: Sequence[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """The hearing-clock ranges [a, b) to silence in one recording entry: every time range (of
    all sources or of its own), and the time of each redacted segment and word of its source,
    clipped to the recording and merged."""
    src = transcript_source(entry.get("source_id"))
    r0, r1 = int(entry.get("start_ms", 0)), int(entry.get("end_ms", 0))
    ranges = list(_time_spans(spans, src))
    for seg in segments:
        if seg.get("source_id") != src:
            continue
        if _whole(seg, spans):
            ranges.append((seg["start_ms"], seg["end_ms"]))
            continue
        words = seg.get("words") or []
        ranges += [(int(words[i][1]), int(words[i][2])) for i in _covered_words(seg, spans)]
    clipped = sorted((max(a, r0), min(b, r1)) for a, b in ranges if _overlaps(a, b, r0, r1))
    merged: list[tuple[int, int]] = []
    for a, b in clipped:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _recording_key(entry: Mapping[str, Any]) -> tuple:
    return (entry.get("kind"), entry.get("source_id"), entry.get("start_ms"),
            entry.get("name"))


# ---------------------------------------------------------------- the derivation

def redact(version_doc: Mapping[str, Any], spans: Iterable[Mapping[str, Any]], *,
           derived: Mapping[str, Mapping[str, Any]] | None = None,
           created_at: str | None = None) -> dict[str, Any]:
    """The redacted copy of ``version_doc`` (see the module docstring). ``derived`` maps an
    original recording's SHA-256 to its silenced copy ({"sha256", "size"}); a recording that
    a range touches and that has no derived copy is listed as withheld (its file is not given
    out). The original document is not changed."""
    if version_doc.get("redacts"):
        raise RedactionError("a redacted copy is redacted from its original, not from a copy")
    norm = normalise_spans(version_doc, spans)
    doc = copy.deepcopy(dict(version_doc))
    segs = doc.get("segments") or []
    doc["segments"] = [_redact_segment(s, norm) for s in segs]
    for note in doc.get("notes") or []:
        if any(a <= int(note.get("at_ms", -1)) < b for a, b in _time_spans(norm)):
            note["text"] = MARK
    withheld = {s["evidence_id"] for s in norm if s["kind"] == "evidence"}
    for e in doc.get("evidence") or []:
        if e.get("evidence_id") in withheld:
            e.update(name=MARK, withheld=True)
    recs = []
    for r in doc.get("recordings") or []:
        if recording_ranges(r, segs, norm):
            copy_of = (derived or {}).get(r["sha256"])
            if copy_of is None:
                r = {**r, "withheld": True}
            else:
                r = {**r, "sha256": str(copy_of["sha256"]), "size": int(copy_of["size"]),
                     "redacts_sha256": r["sha256"]}
        recs.append(r)
    doc["recordings"] = recs
    doc["redacts"] = {"sha256": canonical_sha256(dict(version_doc)),
                      "number": int(version_doc["number"])}
    doc["redaction"] = {"spans": norm, "created_at": created_at or utc_now(),
                        "mark": [MARK, MARK_KK]}
    canonical_bytes(doc)  # refuse now what could not be hashed later
    return doc


def redacted_version(doc: Mapping[str, Any]) -> StenogramVersion:
    """The redacted document as a version object (its hash is its identity), so the protocol
    renderers and the signature records treat it like any version."""
    return StenogramVersion(document=dict(doc), sha256=canonical_sha256(dict(doc)))


def _diff(path: str, want: Any, got: Any, out: list[str]) -> None:
    if want == got:
        return
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(want) | set(got), key=str):
            if k not in got:
                out.append(f"{path}.{k} is missing")
            elif k not in want:
                out.append(f"{path}.{k} is not in the original")
            else:
                _diff(f"{path}.{k}", want[k], got[k], out)
        return
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for i, (a, b) in enumerate(zip(want, got)):
            _diff(f"{path}[{i}]", a, b, out)
        return
    out.append(f"{path} differs from the original ({_short(want)} → {_short(got)})")


def _short(v: Any) -> str:
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= 60 else s[:57] + "…"


def check_redaction(original_doc: Mapping[str, Any], redacted_doc: Mapping[str, Any]
                    ) -> list[str]:
    """Every difference between the redacted copy and its original that the copy's declared
    spans do not explain (empty: the copy differs only inside them). Also checks that the copy
    names this original by hash and number."""
    problems: list[str] = []
    ref = redacted_doc.get("redacts") or {}
    sha = canonical_sha256(dict(original_doc))
    if ref.get("sha256") != sha:
        problems.append(f"the copy redacts {str(ref.get('sha256'))[:16]}…, not this original "
                        f"({sha[:16]}…)")
    if ref.get("number") != original_doc.get("number"):
        problems.append(f"the copy redacts version {ref.get('number')}, not "
                        f"{original_doc.get('number')}")
    red = redacted_doc.get("redaction") or {}
    derived = {r["redacts_sha256"]: r for r in redacted_doc.get("recordings") or []
               if isinstance(r, dict) and r.get("redacts_sha256")}
    try:
        want = redact(original_doc, red.get("spans") or [], derived=derived,
                      created_at=red.get("created_at"))
    except (RedactionError, KeyError, TypeError, ValueError) as e:
        return problems + [f"the declared spans do not apply to the original: {e}"]
    got = dict(redacted_doc)
    # segments are compared by id, so a report names the segment rather than a list index
    want_segs = {s["segment_id"]: s for s in want.pop("segments")}
    got_segs = got.pop("segments", None)
    if not isinstance(got_segs, list):
        problems.append("the copy has no segment list")
        got_segs = []
    seen = set()
    for s in got_segs:
        sid = s.get("segment_id") if isinstance(s, dict) else None
        if sid not in want_segs:
            problems.append(f"segment {sid} is not in the original")
            continue
        seen.add(sid)
        _diff(f"segment {sid}", want_segs[sid], s, problems)
    problems += [f"segment {sid} of the original is missing" for sid in want_segs
                 if sid not in seen]
    if [s.get("segment_id") for s in got_segs if isinstance(s, dict)] != [
            s for s in want_segs if s in seen]:
        problems.append("segments are in a different order from the original's")
    _diff("document", want, got, problems)
    return problems


def audio_ranges(redacted_doc: Mapping[str, Any], original_doc: Mapping[str, Any]
                 ) -> dict[str, tuple[str, list[tuple[int, int]], int]]:
    """For each derived recording of the copy: its SHA-256 -> (the original's SHA-256, the
    ranges in which it may differ, the recording's start on the hearing clock)."""
    spans = (redacted_doc.get("redaction") or {}).get("spans") or []
    out = {}
    segs = original_doc.get("segments") or []
    for r in redacted_doc.get("recordings") or []:
        if r.get("redacts_sha256"):
            out[r["sha256"]] = (r["redacts_sha256"], recording_ranges(r, segs, spans),
                                int(r.get("start_ms", 0)))
    return out


# ---------------------------------------------------------------- signatures on a copy

def redaction_statement(copy_: StenogramVersion, *, role: str, user_id: str, name: str,
                        signatures: Sequence[Mapping[str, Any]] = (),
                        signed_at: str | None = None) -> dict[str, Any]:
    """What the court signs on a redacted copy: a version signature statement about the
    copy's hash. Whoever of the judge and secretary made the copy signs first; the other may
    countersign (each once)."""
    if role not in SIGNING_ORDER:
        raise RedactionError(f"role {role!r} does not sign redacted copies")
    if version_problems(copy_):
        raise RedactionError("the copy's content does not match its hash")
    mine = [s for s in signatures if s["statement"]["version_sha256"] == copy_.sha256]
    if role in [s["statement"]["role"] for s in mine]:
        raise RedactionError(f"{role} has already signed this redacted copy")
    return {"format": SIGNATURE_FORMAT, "hearing_id": copy_.document["hearing"].get("id"),
            "version_number": copy_.number, "version_sha256": copy_.sha256, "role": role,
            "signer": {"user_id": user_id, "name": name}, "signed_at": signed_at or utc_now(),
            "countersigns": canonical_sha256(dict(mine[-1])) if mine else None}


def redaction_signature_problems(copy_: StenogramVersion, signatures: Sequence[Mapping[str, Any]],
                                 keys: Mapping[str, dict[str, Any]]) -> list[str]:
    problems = []
    if not signatures:
        return ["the redacted copy carries no signature"]
    prev, roles = None, []
    for sig in signatures:
        st = sig.get("statement") or {}
        label = f"{st.get('role', '?')} signature"
        if st.get("format") != SIGNATURE_FORMAT or st.get("role") not in SIGNING_ORDER:
            problems.append(f"{label}: not a court signature statement")
            continue
        if st.get("version_sha256") != copy_.sha256:
            problems.append(f"{label}: signs a different document")
        if st.get("role") in roles:
            problems.append(f"{label}: signed twice")
        roles.append(st.get("role"))
        if st.get("countersigns") != (None if prev is None else canonical_sha256(dict(prev))):
            problems.append(f"{label}: does not countersign the signature before it")
        key = keys.get(sig.get("key_id", ""))
        if key is None:
            problems.append(f"{label}: public key {sig.get('key_id')} not in the bundle")
        else:
            try:
                ok = verify_signature(key, canonical_bytes(st), unb64(sig["signature"]))
            except Exception as e:  # noqa: BLE001 - any failure to check is a failed check
                ok = False
                problems.append(f"{label}: {e}")
            if not ok:
                problems.append(f"{label}: signature does not verify")
        prev = sig
    return problems


# ---------------------------------------------------------------- the redacted bundle

def write_redacted_bundle(path: Path, *, copy_: StenogramVersion,
                          signatures: Sequence[Mapping[str, Any]],
                          public_keys: Sequence[Mapping[str, Any]],
                          media: Mapping[str, Path] | None = None,
                          documents: Mapping[str, bytes] | None = None) -> dict[str, Any]:
    """The redacted copy's own bundle (atomically written). ``media`` maps a derived
    recording's SHA-256 to its file; only recordings the copy lists are accepted."""
    path = Path(path)
    listed = {r["sha256"] for r in copy_.document.get("recordings") or []
              if not r.get("withheld")}
    files: dict[str, dict[str, Any]] = {}
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        def put(name: str, data: bytes) -> None:
            zf.writestr(name, data)
            files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        put(REDACTED_MEMBER, canonical_bytes(copy_.to_dict()))
        put(SIGNATURES_MEMBER, canonical_bytes([dict(s) for s in signatures]))
        for k in public_keys:
            put(f"keys/{k['key_id']}.json", canonical_bytes(dict(k)))
        for sha, src in (media or {}).items():
            if sha not in listed:
                raise ValueError(f"media {sha} is not a recording of the redacted copy")
            put(f"media/recordings/{sha}{Path(src).suffix.lower()}", Path(src).read_bytes())
        for name, data in (documents or {}).items():
            put(f"documents/{name}", data)
        manifest = {"format": REDACTED_BUNDLE_FORMAT,
                    "hearing_id": copy_.document["hearing"].get("id"),
                    "created_at": utc_now(), "files": files}
        zf.writestr("manifest.json", canonical_bytes(manifest))
    tmp.replace(path)
    return manifest


def is_redacted_bundle(zf: zipfile.ZipFile) -> bool:
    try:
        return json.loads(zf.read("manifest.json")).get("format") == REDACTED_BUNDLE_FORMAT
    except (KeyError, ValueError, AttributeError):
        return False


def verify_redacted(zf: zipfile.ZipFile, original: StenogramVersion | None = None
                    ) -> list[tuple[str, list[str], str]]:
    """The checks on an open redacted bundle, as (name, problems, detail when it holds): the
    manifest, the copy's hash, its signatures, its reference to the original and, with the
    original version given, that the text differs only inside the declared spans."""
    out: list[tuple[str, list[str], str]] = []
    manifest = json.loads(zf.read("manifest.json"))
    listed = manifest.get("files") or {}
    bad = [f"{n} is listed but missing" for n in listed if n not in zf.namelist()]
    bad += [f"{n} differs from the manifest" for n, meta in listed.items()
            if n in zf.namelist() and hashlib.sha256(zf.read(n)).hexdigest() != meta.get("sha256")]
    bad += [f"{n} is not in the manifest" for n in zf.namelist()
            if n != "manifest.json" and n not in listed and not n.endswith("/")]
    out.append(("manifest: every file present and unchanged", bad, f"{len(listed)} files"))
    copy_ = StenogramVersion.from_dict(json.loads(zf.read(REDACTED_MEMBER)))
    doc = copy_.document
    ref = doc.get("redacts") or {}
    out.append(("redacted copy: content matches its SHA-256", version_problems(copy_),
                copy_.sha256))
    refp = [] if (isinstance(ref.get("sha256"), str) and len(ref["sha256"]) == 64
                  and ref.get("number") == doc.get("number")) else [
        "the copy does not name the version it redacts"]
    spans = (doc.get("redaction") or {}).get("spans") or []
    out.append(("redacted copy: names its original version by hash", refp,
                f"redacts version {ref.get('number')} ({str(ref.get('sha256'))[:16]}…), "
                f"{len(spans)} declared span(s)"))
    keys = {}
    for n in zf.namelist():
        if n.startswith("keys/"):
            k = json.loads(zf.read(n))
            keys[str(k.get("key_id"))] = k
    sigs = json.loads(zf.read(SIGNATURES_MEMBER))
    who = ", ".join(f"{s['statement']['role']} {s['statement']['signer'].get('name')}"
                    for s in sigs if isinstance(s, dict) and "statement" in s)
    out.append(("redacted copy: signatures verify", redaction_signature_problems(
        copy_, sigs, keys), who))
    media = [n for n in zf.namelist() if n.startswith("media/recordings/")]
    listed_recs = {r["sha256"] for r in doc.get("recordings") or []}
    mp = [f"{n}: not a recording of the copy, or not its hash" for n in media
          if n.split("/")[2].split(".")[0] not in listed_recs
          or hashlib.sha256(zf.read(n)).hexdigest() != n.split("/")[2].split(".")[0]]
    out.append(("redacted copy: every included recording has the signed SHA-256", mp,
                f"{len(media)} recording file(s)"))
    if original is not None:
        p = version_problems(original)
        out.append(("original: the version named is in the original bundle and matches its "
                    "hash", p + ([] if original.sha256 == ref.get("sha256") else [
                        "the original bundle has no version with the hash the copy names"]),
                    f"version {original.number}"))
        diffs = check_redaction(original.document, doc)
        out.append(("redacted copy differs from the original only inside the declared spans",
                    diffs, f"{len(spans)} span(s)"))
    return out


def is_redacted_file(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return is_redacted_bundle(zf)
    except (OSError, zipfile.BadZipFile):
        return False


def original_version(original_bundle: Path, sha256: str) -> StenogramVersion | None:
    """The version with this hash in an ordinary bundle, if it has one."""
    from .bundle import read_bundle
    b = read_bundle(Path(original_bundle))
    try:
        return next((v for v in b.versions if v.sha256 == sha256), None)
    finally:
        b.zf.close()


def verify_redacted_bundle(path: Path, original: Path | None = None,
                           trusted_keys: Iterable[str] | None = None) -> list:
    """Every check on a redacted bundle (stenogram.verify.Check items); with ``original``
    (the original's ordinary bundle) that bundle is verified too and the copy's text is
    compared with the version it names. The audio is compared by ``media.redaction``."""
    from .bundle import BundleError
    from .verify import Check, verify_bundle
    checks: list = []
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        return [Check("bundle", False, f"cannot open {path} as a zip: {e}")]
    with zf:
        try:
            doc = json.loads(zf.read(REDACTED_MEMBER))["document"]
            checks.append(Check("bundle", True, f"redacted copy of version "
                                f"{(doc.get('redacts') or {}).get('number')} of hearing "
                                f"{(doc.get('hearing') or {}).get('id')}"))
            orig = None
            if original is not None:
                checks += [Check(f"original: {c.name}", c.ok, c.detail)
                           for c in verify_bundle(Path(original))]
                try:
                    orig = original_version(Path(original),
                                            str((doc.get("redacts") or {}).get("sha256")))
                except BundleError as e:
                    checks.append(Check("original bundle is readable", False, str(e)))
                if orig is None:
                    checks.append(Check("original: has the version the copy redacts", False,
                                        "no version with the hash the copy names"))
            for name, problems, detail in verify_redacted(zf, orig):
                ok = not problems
                checks.append(Check(name, ok, detail if ok else "; ".join(problems[:5]) + (
                    f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")))
            if trusted_keys is not None:
                wanted = [t.strip().lower().replace(" ", "") for t in trusted_keys]
                sigs = json.loads(zf.read(SIGNATURES_MEMBER))
                bad = [f"{s['statement']['role']} signature is by untrusted key "
                       f"{str(s.get('key_id'))[:16]}…" for s in sigs
                       if not any(len(t) >= 32 and str(s.get("key_id")).startswith(t)
                                  for t in wanted)]
                checks.append(Check("signing keys are among the trusted keys given", not bad,
                                    "; ".join(bad) or f"{len(sigs)} signature(s), all trusted"))
        except Exception as e:  # noqa: BLE001 - a malformed copy fails its check, loudly
            checks.append(Check("redacted copy: readable", False,
                                f"could not be checked: {type(e).__name__}: {e}"))
    return checks
