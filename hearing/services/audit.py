"""Is a hearing's audit log still what the server signed? The hash chain shows an edited,
deleted or reordered row, but not a cut tail or a chain re-hashed from the first edited row on.
Those are caught against the signed tree heads, above all the ones in the append-only head
file outside the database (<data_dir>/audit-heads/): each head's signature must verify with
the server's audit key, its size must not exceed the rows, and the first tree_size rows must
hash to its root. Blocking: for the command line."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from hearing import audit, stenograms
from hearing.config import Config
from hearing.db import Database
from stenogram.merkle import MerkleTree, audit_leaf, tree_head_id, tree_head_problems
from stenogram.signing import SigningError


@dataclass
class AuditReport:
    hearing_id: int
    rows: int
    chain_intact: bool
    problems: list[str] = field(default_factory=list)
    heads: int = 0  # signed heads checked against the rows
    latest: dict | None = None  # the largest signed head
    notes: list[str] = field(default_factory=list)  # worth knowing, not a failure

    @property
    def ok(self) -> bool:
        return not self.problems


def _span(a: int, b: int) -> str:
    return f"row {a}" if a == b else f"rows {a}-{b}"


def verify_log(db: Database, cfg: Config, hearing_id: int) -> AuditReport:
    """The chain, then the rows against every signed head (file and database)."""
    def work(s: Session) -> tuple:
        n, chain = audit.verify(s, hearing_id)
        return n, chain, stenograms.audit_rows(s, hearing_id), stenograms.tree_heads(s, hearing_id)
    n, chain, docs, db_heads = db.run_sync(work)
    rep = AuditReport(hearing_id, n, not chain, [str(p) for p in chain])
    path = stenograms.head_file(cfg, hearing_id)
    file_heads, bad_lines = stenograms.read_heads(path)
    rep.problems += bad_lines
    in_file = {tree_head_id(h) for h in file_heads}
    outside = [h for h in db_heads if tree_head_id(h) not in in_file]
    if outside and hearing_id != audit.SERVER_CHAIN:
        rep.notes.append(f"{len(outside)} signed head(s) only in the database, not in {path} "
                         "(signed before heads were kept outside it, or the file was replaced)")
    heads = {tree_head_id(h): h for h in db_heads + file_heads}
    if not heads:
        if hearing_id != audit.SERVER_CHAIN and n:
            rep.notes.append(f"no signed tree head in {path} or the database: only the hash "
                             "chain was checked")
        return rep
    heads_by_size = sorted(heads.values(), key=lambda h: (h["tree_size"], str(h.get("timestamp"))))
    rep.heads, rep.latest = len(heads_by_size), heads_by_size[-1]
    rep.problems += _signatures(cfg, hearing_id, heads_by_size)
    rep.problems += _against_rows(rep, docs, heads_by_size)
    return rep


def _signatures(cfg: Config, hearing_id: int, heads: list[dict]) -> list[str]:
    try:
        key = stenograms.server_public_key(cfg)
    except SigningError as e:
        return [f"the signed heads cannot be checked: {e}"]
    if key is None:
        return [f"the signed heads cannot be checked: no audit key at "
                f"{stenograms.server_key_path(cfg)}"]
    out: list[str] = []
    want = stenograms.log_id(hearing_id)
    for h in heads:
        if h.get("log_id") != want:
            out.append(f"the signed head of {h.get('timestamp')} is for {h.get('log_id')!r}, "
                       f"not this hearing")
        out += [f"{p} (signed head of {h.get('timestamp')})"
                for p in tree_head_problems(h, {key["key_id"]: key})]
    return out


def _against_rows(rep: AuditReport, docs: list[dict], heads: list[dict]) -> list[str]:
    n = len(docs)
    out: list[str] = []
    longest = heads[-1]
    if longest["tree_size"] > n:
        out.append(f"{_span(n + 1, longest['tree_size'])} missing: the signed head of "
                   f"{longest.get('timestamp')} covers {longest['tree_size']} rows, the log "
                   f"has {n} (truncated)")
    tree = MerkleTree([audit_leaf(d) for d in docs])
    checkable = [h for h in heads if h["tree_size"] <= n]
    bad = [h for h in checkable if tree.root(h["tree_size"]).hex() != h.get("root_hash")]
    if bad:
        first = bad[0]
        good = max((h["tree_size"] for h in checkable
                    if h not in bad and h["tree_size"] < first["tree_size"]), default=0)
        what = ("re-hashed: the hash chain is intact but" if rep.chain_intact
                else "rewritten:")
        more = f" (and {len(bad) - 1} later signed head(s))" if len(bad) > 1 else ""
        out.append(f"{what} rows 1-{first['tree_size']} no longer hash to the root signed at "
                   f"{first.get('timestamp')}{more}; the change is in "
                   f"{_span(good + 1, first['tree_size'])}")
    return out
