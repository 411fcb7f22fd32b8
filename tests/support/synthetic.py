"""A synthetic hearing (Russian and Kazakh speech, several speakers, corrections, signatures,
audit log, recording chunks and evidence) for tests, benchmarks and demonstrations. Built only
through the public API, so it exercises exactly what the hearing server will call."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from stenogram.canonical import canonical_sha256
from stenogram.merkle import MerkleTree, audit_leaf, sign_tree_head
from stenogram.revisions import RevisionError, Transcript
from stenogram.segments import segment_from_final
from stenogram.signing import Ed25519Signer
from stenogram.version import StenogramVersion, build_version, sign_version

RU = ("суд рассматривает дело по иску о взыскании задолженности истец поддерживает свои "
      "требования в полном объёме прошу приобщить к материалам дела договор и расписку "
      "свидетель предупреждён об уголовной ответственности за дачу ложных показаний").split()
KK = ("сот отырысы ашық деп жариялаймын тараптардың құқықтары мен міндеттері түсіндірілді "
      "куәгер шындықты айтуға міндетті өтініш қанағаттандырылсын іс бойынша дәлелдемелер "
      "қаралды үкім шығарылады ұлттық һәм өңірлік құжаттар ғана").split()

OPENED = datetime(2026, 3, 17, 4, 0, 0, tzinfo=timezone.utc)


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class SyntheticHearing:
    hearing: dict[str, Any]
    participants: list[dict[str, Any]]
    transcript: Transcript
    versions: list[StenogramVersion]
    signatures: list[dict[str, Any]]
    signers: dict[str, Ed25519Signer]
    server_signer: Ed25519Signer
    audit_rows: list[dict[str, Any]]
    tree_heads: list[dict[str, Any]]
    recordings: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    media: dict[str, Path] = field(default_factory=dict)

    def public_keys(self) -> list[dict[str, Any]]:
        return [s.public_key_info() for s in (*self.signers.values(), self.server_signer)]

    def bundle_kwargs(self, with_media: bool = True) -> dict[str, Any]:
        return dict(versions=self.versions, signatures=self.signatures,
                    public_keys=self.public_keys(), revisions=self.transcript.revisions,
                    audit_rows=self.audit_rows, tree_heads=self.tree_heads,
                    media=self.media if with_media else None)


class _Audit:
    """Stand-in for the server's audit log: rows, leaf hashes, a signed head every ``every``."""

    def __init__(self, log_id: str, signer: Ed25519Signer, every: int) -> None:
        self.log_id, self.signer, self.every = log_id, signer, every
        self.rows: list[dict[str, Any]] = []
        self.leaves: list[bytes] = []
        self.heads: list[dict[str, Any]] = []

    def log(self, ms: int, actor: str, action: str, **details: Any) -> None:
        # the hearing server's row document: seq from 1, hash-chained by prev_hash
        row = {"hearing_id": self.log_id, "seq": len(self.rows) + 1,
               "at": iso(OPENED + timedelta(milliseconds=ms)), "clock_ms": ms, "actor": actor,
               "action": action, "data": details,
               "prev_hash": canonical_sha256(self.rows[-1]) if self.rows else "0" * 64}
        self.rows.append(row)
        self.leaves.append(audit_leaf(row))
        if len(self.rows) % self.every == 0:
            self.sign_head(ms)

    def sign_head(self, ms: int) -> None:
        if not self.heads or self.heads[-1]["tree_size"] != len(self.leaves):
            self.heads.append(sign_tree_head(self.signer, self.log_id, self.leaves,
                                             iso(OPENED + timedelta(milliseconds=ms))))

    def head(self) -> dict[str, Any]:
        return {"log_id": self.log_id, "tree_size": len(self.leaves),
                "root_hash": MerkleTree(self.leaves).root().hex()}


def build_synthetic_hearing(*, segments: int = 300, revisions: int = 10, versions: int = 3,
                            chunks: int = 2, media_dir: Path | None = None, seed: int = 1,
                            audit_every: int = 50) -> SyntheticHearing:
    rng = random.Random(seed)
    hearing = {"id": "hearing-0042", "court": "Астана қаласының аудандық соты / "
               "Районный суд города Астаны", "case_number": "2-1234/2026",
               "title": "Иск о взыскании задолженности / Қарызды өндіріп алу туралы талап",
               "date": OPENED.date().isoformat(), "opened_at": iso(OPENED),
               "composition": [{"role": "judge", "name": "Әлібек Нұрланұлы Сейітқали"},
                               {"role": "secretary", "name": "Гүлнұр Қанатқызы Өмірбекова"}]}
    participants = [
        {"id": "p-judge", "name": "Әлібек Сейітқали", "role": "judge", "source_id": "mic-1"},
        {"id": "p-secretary", "name": "Гүлнұр Өмірбекова", "role": "secretary",
         "source_id": "mic-2"},
        {"id": "p-plaintiff", "name": "Иванов Пётр Сергеевич", "role": "plaintiff",
         "source_id": "web-a"},
        {"id": "p-defendant", "name": "Ұлжан Төлеуқызы", "role": "defendant",
         "source_id": "web-b"},
        {"id": "p-witness", "name": "Һадиша Ғабитова", "role": "witness", "source_id": "mic-5"},
    ]
    signers = {"secretary": Ed25519Signer.from_seed(hashlib.sha256(b"sec%d" % seed).digest(),
                                                    owner="Гүлнұр Өмірбекова (secretary)"),
               "judge": Ed25519Signer.from_seed(hashlib.sha256(b"judge%d" % seed).digest(),
                                                owner="Әлібек Сейітқали (judge)")}
    server = Ed25519Signer.from_seed(hashlib.sha256(b"server%d" % seed).digest(),
                                     owner="courtroom server (audit log)")
    audit = _Audit(hearing["id"], server, audit_every)
    audit.log(0, "p-judge", "hearing.opened")

    # recordings: one chunk file per source per period
    recordings, media = [], {}
    total_ms = max(60_000, segments * 2_800)
    for c in range(chunks):
        for p in participants[:2]:
            data = rng.randbytes(2048) if media_dir else b""
            sha = hashlib.sha256(data or f"{p['source_id']}-{c}-{seed}".encode()).hexdigest()
            entry = {"sha256": sha, "size": len(data), "source_id": p["source_id"],
                     "start_ms": c * total_ms // chunks, "end_ms": (c + 1) * total_ms // chunks,
                     "media_type": "audio/ogg"}
            recordings.append(entry)
            if media_dir:
                path = Path(media_dir) / f"{sha}.ogg"
                path.write_bytes(data)
                media[sha] = path
            audit.log(entry["end_ms"], "server", "recording.chunk_stored", sha256=sha,
                      source_id=p["source_id"])
    ev_data = b"%PDF-1.4 evidence " + rng.randbytes(512)
    ev_sha = hashlib.sha256(ev_data).hexdigest()
    evidence = [{"sha256": ev_sha, "size": len(ev_data), "name": "договор.pdf",
                 "media_type": "application/pdf", "submitted_by": "p-plaintiff"}]
    if media_dir:
        path = Path(media_dir) / "evidence.pdf"
        path.write_bytes(ev_data)
        media[ev_sha] = path
    audit.log(total_ms // 3, "p-judge", "evidence.accepted", sha256=ev_sha)

    t = Transcript()
    ms = 1000
    for i in range(segments):
        p = participants[rng.randrange(len(participants))]
        vocab = KK if rng.random() < 0.4 else RU
        n = rng.randint(5, 18)
        words, w_ms = [], ms
        for _ in range(n):
            dur = rng.randint(180, 520)
            words.append([" " + rng.choice(vocab), w_ms, w_ms + dur, round(rng.uniform(0.5, 1), 3)])
            w_ms += dur + rng.randint(20, 120)
        event = {"type": "final", "source_id": p["source_id"], "start_ms": ms, "end_ms": w_ms,
                 "text": "".join(w[0] for w in words).strip().capitalize() + ".",
                 "words": words, "language": "kk" if vocab is KK else "ru",
                 "model": "whisper-base"}
        t.add_machine_segment(segment_from_final(event, speaker=p["id"],
                                                 segment_id=f"s{i:05d}"),
                              at=iso(OPENED + timedelta(milliseconds=w_ms)))
        ms = w_ms + rng.randint(200, 1500)
    audit.log(ms, "p-judge", "hearing.closed")

    sigs: list[dict[str, Any]] = []
    built: list[StenogramVersion] = []
    per_version = [revisions // versions + (1 if k < revisions % versions else 0)
                   for k in range(versions)]
    clock = ms
    for k in range(versions):
        done = 0
        while done < per_version[k]:
            clock += 5000
            at = iso(OPENED + timedelta(milliseconds=clock))
            segs = t.segments()
            s = segs[rng.randrange(len(segs))]
            kind = rng.choice(["edit", "edit", "edit", "speaker", "split", "merge", "restore"])
            try:
                if kind == "edit":
                    toks = s.text.split()
                    j = rng.randrange(len(toks))
                    toks[j] = rng.choice(KK + RU)
                    if rng.random() < 0.3:
                        toks.insert(j, rng.choice(KK))
                    t.edit_text(s.segment_id, " ".join(toks), author="p-secretary",
                                reason="исправление по аудиозаписи", at=at)
                elif kind == "speaker":
                    other = [p["id"] for p in participants if p["id"] != s.speaker]
                    t.set_speaker(s.segment_id, rng.choice(other), author="p-secretary",
                                  reason="говорил другой участник", at=at)
                elif kind == "split":
                    t.split(s.segment_id, max(1, len(s.text.split()) // 2), author="p-secretary",
                            reason="две реплики", at=at, new_ids=(s.segment_id + "a",
                                                                  s.segment_id + "b"))
                elif kind == "merge":
                    same = [x for x in segs if x.source_id == s.source_id]
                    j = same.index(s)
                    if j + 1 >= len(same):
                        continue
                    t.merge([s.segment_id, same[j + 1].segment_id], author="p-secretary",
                            reason="одна реплика", at=at, new_id=s.segment_id + "m")
                else:
                    hist = t.history(s.segment_id)
                    if len(hist) < 2:
                        continue
                    t.restore(s.segment_id, hist[-2].seq, author="p-secretary",
                              reason="вернуть прежний текст", at=at)
            except RevisionError:
                continue
            done += 1
            audit.log(clock, "p-secretary", "stenogram.revised", seq=t.revisions[-1].seq)
        audit.sign_head(clock)
        v = build_version(hearing=hearing, participants=participants, segments=t.segments(),
                          revisions_head=t.head(), recordings=recordings, evidence=evidence,
                          audit_head=audit.head(), previous=built[-1] if built else None,
                          created_at=iso(OPENED + timedelta(milliseconds=clock)))
        built.append(v)
        for role, uid in (("secretary", "p-secretary"), ("judge", "p-judge")):
            clock += 60_000
            sig = sign_version(v, signers[role], role=role, user_id=uid,
                               name=next(p["name"] for p in participants if p["id"] == uid),
                               signatures=sigs,
                               signed_at=iso(OPENED + timedelta(milliseconds=clock)))
            sigs.append(sig)
            audit.log(clock, uid, "stenogram.signed", version=v.number, version_sha256=v.sha256,
                      role=role)
    audit.sign_head(clock)
    return SyntheticHearing(hearing, participants, t, built, sigs, signers, server,
                            audit.rows, audit.heads, recordings, evidence, media)
