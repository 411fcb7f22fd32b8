"""Stenogram versions and the signature workflow.

A version is canonical JSON of: hearing metadata, participants, the current segments, the head
of the revision chain they were folded from, the SHA-256 of every recording chunk and accepted
evidence file, the audit-log tree head at the time, and the previous version's hash. Its SHA-256
is its identity. The secretary signs first, then the judge (whose statement countersigns the
secretary's signature); with both, the version is "signed" and locked. A correction after that
goes into a new version, linked by ``previous_sha256``, which needs new signatures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from .canonical import canonical_bytes, canonical_sha256
from .revisions import utc_now
from .segments import Segment, Word, chronological, is_doubtful
from .signing import Signer, b64, unb64, verify_signature

VERSION_FORMAT = "courtroom-stenogram/1"
SIGNATURE_FORMAT = "courtroom-signature/1"
SIGNING_ORDER = ("secretary", "judge")

DRAFT, AWAITING_JUDGE, SIGNED = "draft", "awaiting_judge", "signed"


class WorkflowError(ValueError):
    """A signature out of turn, twice, or on a locked or superseded version."""


@dataclass(frozen=True)
class StenogramVersion:
    document: dict[str, Any]
    sha256: str

    @property
    def number(self) -> int:
        return int(self.document["number"])

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "document": self.document}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "StenogramVersion":
        return cls(document=dict(d["document"]), sha256=str(d["sha256"]))

    def segments(self) -> list[Segment]:
        return [Segment.from_dict(s) for s in self.document["segments"]]

    @property
    def uncertain_segments(self) -> int:
        """How many of its segments the recogniser marked as uncertain (versions built before
        the count was written are counted from their segments)."""
        if "uncertain_segments" in self.document:
            return int(self.document["uncertain_segments"])
        return _count_uncertain(self.document.get("segments") or [])

    @property
    def doubtful_words(self) -> int:
        """How many words of its unchecked segments the recogniser heard with little
        probability (counted from the segments in versions built before the count was
        written)."""
        if "doubtful_words" in self.document:
            return int(self.document["doubtful_words"])
        return _count_doubtful(self.document.get("segments") or [])


def _count_uncertain(segments: Iterable[Mapping[str, Any]]) -> int:
    return sum(1 for s in segments if s.get("uncertain"))


def _count_doubtful(segments: Iterable[Mapping[str, Any]]) -> int:
    """Doubtful words in segments nobody has corrected yet: a correction is made against the
    recording, so it checks the words left as they were too."""
    return sum(1 for s in segments if s.get("origin", "asr") != "edit_text"
               for w in s.get("words") or [] if is_doubtful(Word.from_any(w).probability))


def _file_entries(items: Iterable[Mapping[str, Any]], what: str) -> list[dict[str, Any]]:
    out = []
    for it in items:
        d = dict(it)
        h = str(d.get("sha256", ""))
        if len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
            raise ValueError(f"{what} entry without a SHA-256 hex digest: {it!r}")
        out.append(d)
    return sorted(out, key=lambda d: (str(d.get("source_id", "")), d.get("start_ms", 0),
                                      str(d.get("name", "")), d["sha256"]))


def build_version(*, hearing: Mapping[str, Any], participants: Sequence[Mapping[str, Any]],
                  segments: Iterable[Segment], revisions_head: Mapping[str, Any],
                  recordings: Iterable[Mapping[str, Any]] = (),
                  evidence: Iterable[Mapping[str, Any]] = (),
                  audit_head: Mapping[str, Any] | None = None,
                  previous: StenogramVersion | None = None,
                  created_at: str | None = None,
                  notes: Sequence[Mapping[str, Any]] = ()) -> StenogramVersion:
    """Freeze the current state as the next version.

    hearing: {"id", "court", "case_number", "title", "date", "opened_at" (UTC ISO),
      "composition": [{"role", "name"}], ...} — any JSON-able fields are kept.
    participants: [{"id", "name", "role", ...}]; segment.speaker refers to "id".
    revisions_head: Transcript.head() — {"count", "head_hash"}.
    recordings: [{"sha256", "size", "source_id", "start_ms", ...}] — every recording chunk.
    evidence: [{"sha256", "size", "name", "media_type", ...}] — accepted evidence only.
    audit_head: {"log_id", "tree_size", "root_hash"} of the audit log now (optional).
    notes: the judge's and secretary's log notes [{"id", "at_ms", "role", "text", "replaces",
      ...}] in the order written, corrected ones too; the key is left out when there are none,
      so versions made before notes existed keep their hashes.

    The version states how many segments carry the recogniser's uncertainty mark and how many
    words it doubted, so a signer sees at once how much of the record the machine was unsure
    of."""
    segs = [s.to_dict() for s in chronological(list(segments))]
    doc = {
        "format": VERSION_FORMAT,
        "number": 1 if previous is None else previous.number + 1,
        "previous_sha256": None if previous is None else previous.sha256,
        "created_at": created_at or utc_now(),
        "hearing": dict(hearing),
        "participants": [dict(p) for p in participants],
        "revisions": {"count": int(revisions_head["count"]),
                      "head_hash": str(revisions_head["head_hash"])},
        "segments": segs,
        "uncertain_segments": _count_uncertain(segs),
        "doubtful_words": _count_doubtful(segs),
        "recordings": _file_entries(recordings, "recording"),
        "evidence": _file_entries(evidence, "evidence"),
        "audit": None if audit_head is None else dict(audit_head),
    }
    if notes:
        doc["notes"] = [dict(n) for n in notes]
    return StenogramVersion(document=doc, sha256=canonical_sha256(doc))


def version_problems(v: StenogramVersion) -> list[str]:
    if v.document.get("format") != VERSION_FORMAT:
        return [f"version format is {v.document.get('format')!r}"]
    if canonical_sha256(v.document) != v.sha256:
        return [f"version {v.document.get('number')}: content does not match its SHA-256"]
    return []


# ---------------------------------------------------------------- signatures

def _signature_id(sig: Mapping[str, Any]) -> str:
    return canonical_sha256(dict(sig))


def signature_status(version: StenogramVersion, signatures: Sequence[Mapping[str, Any]]) -> str:
    roles = [s["statement"]["role"] for s in signatures
             if s["statement"]["version_sha256"] == version.sha256]
    if all(r in roles for r in SIGNING_ORDER):
        return SIGNED
    if "secretary" in roles:
        return AWAITING_JUDGE
    return DRAFT


def is_locked(version: StenogramVersion, signatures: Sequence[Mapping[str, Any]]) -> bool:
    return signature_status(version, signatures) == SIGNED


def needs_new_version(latest: StenogramVersion | None, revisions_head: Mapping[str, Any],
                      notes: Sequence[Mapping[str, Any]] = ()) -> bool:
    """True when the transcript or the log notes have changed since ``latest`` was built (or
    there is none): a signature then belongs on a new version, never on the old one. Notes
    are only ever added, so their ids tell."""
    if latest is None:
        return True
    r = latest.document["revisions"]
    noted = [n["id"] for n in latest.document.get("notes") or []]
    return ((r["count"], r["head_hash"]) != (revisions_head["count"], revisions_head["head_hash"])
            or noted != [n["id"] for n in notes])


def signing_statement(version: StenogramVersion, *, role: str, user_id: str, name: str,
                      signatures: Sequence[Mapping[str, Any]] = (),
                      signed_at: str | None = None) -> dict[str, Any]:
    """What a signer signs (its canonical bytes: ``canonical_bytes(statement)``), after the
    workflow checks: right role, right turn, version not locked, content matches its hash.

    Step one of two for signers that do not run on the server (a national-PKI token in the
    user's browser): send the canonical bytes there, get back a signature, then call
    ``signature_record``. Local signers use ``sign_version``, which does both."""
    if role not in SIGNING_ORDER:
        raise WorkflowError(f"role {role!r} does not sign stenograms")
    if version_problems(version):
        raise WorkflowError("version content does not match its hash")
    mine = [s for s in signatures if s["statement"]["version_sha256"] == version.sha256]
    done = [s["statement"]["role"] for s in mine]
    if role in done:
        raise WorkflowError(f"{role} has already signed version {version.number}")
    expected = SIGNING_ORDER[len(done)] if len(done) < len(SIGNING_ORDER) else None
    if expected is None:
        raise WorkflowError(f"version {version.number} is signed and locked")
    if role != expected:
        raise WorkflowError(f"{expected} signs before {role}")
    return {
        "format": SIGNATURE_FORMAT,
        "hearing_id": version.document["hearing"].get("id"),
        "version_number": version.number,
        "version_sha256": version.sha256,
        "role": role,
        "signer": {"user_id": user_id, "name": name},
        "signed_at": signed_at or utc_now(),
        "countersigns": _signature_id(mine[-1]) if mine else None,
    }


def signature_record(statement: Mapping[str, Any], *, algorithm: str, key_id: str,
                     signature: bytes, public_key_info: Mapping[str, Any] | None = None,
                     ) -> dict[str, Any]:
    """Step two: the stored signature record. With ``public_key_info`` the signature is checked
    before it is accepted (do pass it for signatures that come from outside the server)."""
    stmt = dict(statement)
    if public_key_info is not None:
        if public_key_info.get("key_id") != key_id or public_key_info.get("algorithm") != algorithm:
            raise WorkflowError("signature key or algorithm differs from the key given")
        if not verify_signature(dict(public_key_info), canonical_bytes(stmt), signature):
            raise WorkflowError("signature does not verify over the statement")
    return {"statement": stmt, "algorithm": algorithm, "key_id": key_id,
            "signature": b64(signature)}


def sign_version(version: StenogramVersion, signer: Signer, *, role: str, user_id: str,
                 name: str, signatures: Sequence[Mapping[str, Any]] = (),
                 signed_at: str | None = None) -> dict[str, Any]:
    """Sign ``version`` in ``role`` with a local signer. ``signatures`` are those already on this
    version; the secretary signs first, then the judge. Returns the signature record (store it
    as is)."""
    stmt = signing_statement(version, role=role, user_id=user_id, name=name,
                             signatures=signatures, signed_at=signed_at)
    return signature_record(stmt, algorithm=signer.algorithm, key_id=signer.key_id,
                            signature=signer.sign(canonical_bytes(stmt)))


def signature_problems(version: StenogramVersion, signatures: Sequence[Mapping[str, Any]],
                       keys: Mapping[str, dict[str, Any]]) -> list[str]:
    """Check the signatures attached to ``version``: each verifies under its key, is about this
    version, and they come in the workflow order with the judge countersigning."""
    problems: list[str] = []
    prev = None
    for i, sig in enumerate(signatures):
        st = sig.get("statement") or {}
        label = f"version {version.number} {st.get('role', '?')} signature"
        if st.get("format") != SIGNATURE_FORMAT:
            problems.append(f"{label}: unknown format")
            continue
        if st.get("version_sha256") != version.sha256 or st.get("version_number") != version.number:
            problems.append(f"{label}: signs a different version "
                            f"({st.get('version_number')}, {str(st.get('version_sha256'))[:12]}…)")
        if i >= len(SIGNING_ORDER) or st.get("role") != SIGNING_ORDER[i]:
            problems.append(f"{label}: out of order (expected {SIGNING_ORDER[:len(signatures)]})")
        want = None if prev is None else _signature_id(prev)
        if st.get("countersigns") != want:
            problems.append(f"{label}: does not countersign the signature before it")
        key = keys.get(sig.get("key_id", ""))
        if key is None:
            problems.append(f"{label}: public key {sig.get('key_id')} not in the bundle")
        elif key.get("algorithm") != sig.get("algorithm"):
            problems.append(f"{label}: algorithm differs from its key's")
        else:
            try:
                ok = verify_signature(key, canonical_bytes(st), unb64(sig["signature"]))
            except Exception as e:  # noqa: BLE001 - any failure to check is a failed check
                ok, problems = False, problems + [f"{label}: {e}"]
            if not ok:
                problems.append(f"{label}: signature does not verify")
        prev = sig
    return problems
