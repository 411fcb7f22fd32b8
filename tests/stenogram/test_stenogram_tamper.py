"""Tamper tests: a realistic bundle (300 segments, corrections, three signed versions, two
signers, recording chunks and an evidence file with media) altered in each way the issue lists.
Each alteration also rewrites the manifest, as a forger would, so it must be caught by the
substantive check, not by the manifest."""

import argparse
import hashlib
import json
import zipfile

import pytest

from hearing.commands import verify as verify_cmd
from stenogram.bundle import read_bundle, write_bundle
from stenogram.canonical import canonical_bytes, canonical_sha256
from stenogram.export import protocol_from_version, render_documents
from stenogram.merkle import audit_leaf, sign_tree_head
from stenogram.signing import Ed25519Signer
from stenogram.verify import verify_bundle

from support.synthetic import build_synthetic_hearing


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    d = tmp_path_factory.mktemp("bundle")
    media = d / "media"
    media.mkdir()
    h = build_synthetic_hearing(segments=300, revisions=12, versions=3, media_dir=media)
    path = d / "OUT.zip"
    docs = render_documents(protocol_from_version(h.versions[-1], h.signatures), pdf=False)
    write_bundle(path, **h.bundle_kwargs(with_media=True), documents=docs)
    return path


def members(path):
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def rewrite(src, dst, changes, fix_manifest=True):
    """Copy the bundle with members replaced (bytes) or dropped (None)."""
    files = members(src)
    for name, data in changes.items():
        if data is None:
            files.pop(name, None)
        else:
            files[name] = data
    if fix_manifest:
        man = json.loads(files["manifest.json"])
        man["files"] = {n: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)}
                        for n, b in files.items() if n != "manifest.json"}
        files["manifest.json"] = canonical_bytes(man)
    with zipfile.ZipFile(dst, "w") as zf:
        for n, b in files.items():
            zf.writestr(n, b)
    return dst


def failed(path):
    return {c.name for c in verify_bundle(path) if not c.ok}


def load(path, name):
    return json.loads(members(path)[name])


def resealed(version):
    """What a forger does after editing a version: recompute its hash."""
    version["sha256"] = canonical_sha256(version["document"])
    return canonical_bytes(version)


def test_untouched_bundle_verifies_and_cli_exits_zero(bundle, capsys):
    assert failed(bundle) == set()
    assert "documents/protocol.txt" in members(bundle)
    assert verify_cmd.run(argparse.Namespace(bundle=bundle, json=False)) == 0
    out = capsys.readouterr().out
    assert "verified: all" in out and "signatures verify, secretary then judge" in out


def test_one_byte_of_text_flipped(bundle, tmp_path):
    raw = bytearray(members(bundle)["versions/v0003.json"])
    doc = json.loads(raw)
    text = doc["document"]["segments"][100]["text"]
    at = raw.index(text.encode("utf-8")) + len(text.encode("utf-8")) - 2
    raw[at] ^= 0x01  # one byte, still valid UTF-8 (last byte of a letter)
    bad = rewrite(bundle, tmp_path / "flip.zip", {"versions/v0003.json": bytes(raw)})
    assert "version 3: content matches its SHA-256" in failed(bad)
    assert "version 3: segments are the replay of the revision chain" in failed(bad)
    # and with the hash recomputed, the signatures no longer match the version
    v = json.loads(bytes(raw))
    bad = rewrite(bundle, tmp_path / "flip2.zip", {"versions/v0003.json": resealed(v)})
    assert "version 3: signatures verify, secretary then judge" in failed(bad)
    # the same flip in the revision chain (the machine's original text) is caught there
    lines = members(bundle)["revisions.jsonl"].split(b"\n")
    lines[5] = lines[5].replace(b"\xd0\xb0", b"\xd0\xb1", 1) if b"\xd0\xb0" in lines[5] \
        else lines[5].replace(b"a", b"b", 1)
    bad = rewrite(bundle, tmp_path / "flip3.zip", {"revisions.jsonl": b"\n".join(lines)})
    assert "revision chain: hashes, links and replay" in failed(bad)


def test_speaker_changed(bundle, tmp_path):
    v = load(bundle, "versions/v0003.json")
    seg = v["document"]["segments"][42]
    seg["speaker"] = "p-witness" if seg["speaker"] != "p-witness" else "p-judge"
    bad = rewrite(bundle, tmp_path / "spk.zip", {"versions/v0003.json": resealed(v)})
    f = failed(bad)
    assert "version 3: segments are the replay of the revision chain" in f
    assert "version 3: signatures verify, secretary then judge" in f


def test_segments_reordered(bundle, tmp_path):
    v = load(bundle, "versions/v0003.json")
    segs = v["document"]["segments"]
    segs[10], segs[11] = segs[11], segs[10]
    bad = rewrite(bundle, tmp_path / "order.zip", {"versions/v0003.json": canonical_bytes(v)})
    f = failed(bad)
    assert {"version 3: content matches its SHA-256",
            "version 3: segments in chronological order",
            "version 3: segments are the replay of the revision chain"} <= f
    bad = rewrite(bundle, tmp_path / "order2.zip", {"versions/v0003.json": resealed(v)})
    assert "version 3: signatures verify, secretary then judge" in failed(bad)


def test_signature_moved_to_another_version(bundle, tmp_path):
    m = members(bundle)
    # version 3's signatures presented as version 2's
    bad = rewrite(bundle, tmp_path / "move.zip", {"signatures/v0002.json": m["signatures/v0003.json"]})
    assert "version 2: signatures verify, secretary then judge" in failed(bad)
    # the judge's signature on version 2 put in place of the judge's signature on version 3
    s2, s3 = json.loads(m["signatures/v0002.json"]), json.loads(m["signatures/v0003.json"])
    s3[1] = s2[1]
    bad = rewrite(bundle, tmp_path / "move2.zip", {"signatures/v0003.json": canonical_bytes(s3)})
    assert "version 3: signatures verify, secretary then judge" in failed(bad)
    # a statement edited to name version 3 no longer verifies under the signer's key
    s2[1]["statement"].update(version_number=3, version_sha256=s3[0]["statement"]["version_sha256"],
                              countersigns=canonical_sha256(s3[0]))
    bad = rewrite(bundle, tmp_path / "move3.zip",
                  {"signatures/v0003.json": canonical_bytes([s3[0], s2[1]])})
    assert "version 3: signatures verify, secretary then judge" in failed(bad)


def test_middle_version_dropped(bundle, tmp_path):
    bad = rewrite(bundle, tmp_path / "drop.zip", {"versions/v0002.json": None,
                                                  "signatures/v0002.json": None})
    assert "version chain: numbered 1..n, each links to the one before" in failed(bad)


def test_audit_log_truncated(bundle, tmp_path):
    rows = members(bundle)["audit/rows.jsonl"].splitlines()
    bad = rewrite(bundle, tmp_path / "trunc.zip",
                  {"audit/rows.jsonl": b"\n".join(rows[:-3]) + b"\n"})
    assert "audit log: not truncated (rows cover the latest signed tree head)" in failed(bad)
    # cut the later tree heads and proofs too: the signed versions still remember the log size
    heads = [h for h in load(bundle, "audit/tree_heads.json") if h["tree_size"] <= 10]
    bad = rewrite(bundle, tmp_path / "trunc2.zip", {
        "audit/rows.jsonl": b"\n".join(rows[:10]) + b"\n",
        "audit/tree_heads.json": canonical_bytes(heads),
        "audit/proofs.json": canonical_bytes({"consistency": [], "inclusion": []})})
    assert "audit log: the log each version committed to is a prefix of this one" in failed(bad)


def test_audit_row_edited_or_removed_from_the_middle(bundle, tmp_path):
    rows = [json.loads(r) for r in members(bundle)["audit/rows.jsonl"].splitlines()]
    rows[3]["actor"] = "someone-else"
    bad = rewrite(bundle, tmp_path / "edit.zip",
                  {"audit/rows.jsonl": b"".join(canonical_bytes(r) + b"\n" for r in rows)})
    assert {"audit log: rows hash to every signed root (RFC 6962)",
            "audit log: rows hash-chained in sequence"} <= failed(bad)


def test_rehashed_log_signed_again_is_caught_by_the_older_heads(bundle, tmp_path):
    """The server's export after an operator edited a row, re-hashed the chain and deleted the
    heads in the database: the server signs the rewritten log, but the bundle also carries the
    older heads from the append-only head file, and the rows no longer hash to them."""
    b = read_bundle(bundle)
    rows, heads = b.audit_rows, b.tree_heads
    b.zf.close()
    edited = len(rows) - 2
    rows[edited]["actor"] = "someone-else"
    prev = "0" * 64
    for r in rows:
        r["prev_hash"] = prev
        prev = canonical_sha256(r)
    server = Ed25519Signer.from_seed(hashlib.sha256(b"server1").digest())
    resigned = sign_tree_head(server, heads[-1]["log_id"], [audit_leaf(r) for r in rows],
                              "2030-01-01T00:00:00.000000Z")

    def export(name, tree_heads):
        c = read_bundle(bundle)
        write_bundle(tmp_path / name, versions=c.versions,
                     signatures=[s for sigs in c.signatures.values() for s in sigs],
                     public_keys=list(c.keys.values()), revisions=c.revisions,
                     audit_rows=rows, tree_heads=tree_heads)
        c.zf.close()
        return {ch.name: ch for ch in verify_bundle(tmp_path / name)}

    only_new = export("db-heads.zip", [resigned])
    assert all(ch.ok for n, ch in only_new.items() if n.startswith("audit log"))
    checks = export("all-heads.zip", heads + [resigned])
    root = checks["audit log: rows hash to every signed root (RFC 6962)"]
    assert not root.ok and f"do not hash to the head of size {heads[-1]['tree_size']}" in root.detail


def test_truncation_names_the_missing_rows(bundle, tmp_path):
    rows = members(bundle)["audit/rows.jsonl"].splitlines()
    head = load(bundle, "audit/tree_heads.json")[-1]
    bad = rewrite(bundle, tmp_path / "trunc.zip",
                  {"audit/rows.jsonl": b"\n".join(rows[:-3]) + b"\n"})
    check = next(c for c in verify_bundle(bad) if c.name.startswith("audit log: not truncated"))
    n = len(rows) - 3
    assert check.detail == (f"rows {n + 1}-{head['tree_size']} missing: the signed head of "
                            f"{head['timestamp']} covers {head['tree_size']} rows, the bundle "
                            f"has {n}")


def test_recording_chunk_altered(bundle, tmp_path):
    m = members(bundle)
    name = next(n for n in m if n.startswith("media/recordings/"))
    data = bytearray(m[name])
    data[100] ^= 0xFF
    bad = rewrite(bundle, tmp_path / "rec.zip", {name: bytes(data)})
    assert "media: every included recording/evidence file has the signed SHA-256" in failed(bad)
    # a forger who also changes the recording hash in the version breaks the signatures
    v = load(bundle, "versions/v0003.json")
    v["document"]["recordings"][0]["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    bad = rewrite(bundle, tmp_path / "rec2.zip", {"versions/v0003.json": resealed(v)})
    assert "version 3: signatures verify, secretary then judge" in failed(bad)


def test_reformatted_json_still_verifies(bundle, tmp_path):
    """Key order and whitespace of the stored files do not matter: hashes are over JCS."""
    v = load(bundle, "versions/v0003.json")
    pretty = json.dumps({"document": v["document"], "sha256": v["sha256"]}, indent=3,
                        ensure_ascii=False, sort_keys=False).encode()
    ok = rewrite(bundle, tmp_path / "pretty.zip", {"versions/v0003.json": pretty})
    assert failed(ok) == set()


def test_not_a_bundle_and_unfixed_manifest(bundle, tmp_path, capsys):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    assert verify_cmd.run(argparse.Namespace(bundle=junk, json=False)) == 2
    raw = members(bundle)["audit/tree_heads.json"]
    bad = rewrite(bundle, tmp_path / "man.zip", {"audit/tree_heads.json": raw + b" "},
                  fix_manifest=False)
    assert failed(bad) == {"manifest: every file present and unchanged"}
    assert verify_cmd.run(argparse.Namespace(bundle=bad, json=True)) == 1
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert any(not x["ok"] for x in lines)


def test_resigned_by_a_forgers_own_keys_is_caught_by_trusted_fingerprints(bundle, tmp_path):
    """A forger who edits the text, rebuilds every hash and re-signs with keys of his own makes
    a self-consistent bundle; only the court's published fingerprints expose him."""
    from stenogram.signing import Ed25519Signer
    from stenogram.version import StenogramVersion, sign_version
    m = members(bundle)
    genuine = {json.loads(m[n])["key_id"] for n in m if n.startswith("keys/")}
    forged = {}
    v1 = StenogramVersion.from_dict(json.loads(m["versions/v0001.json"]))
    sec, judge = Ed25519Signer.generate(), Ed25519Signer.generate()
    s = [sign_version(v1, sec, role="secretary", user_id="p-secretary", name="x")]
    s.append(sign_version(v1, judge, role="judge", user_id="p-judge", name="y", signatures=s))
    forged["signatures/v0001.json"] = canonical_bytes(s)
    for k in (sec, judge):
        forged[f"keys/{k.key_id}.json"] = canonical_bytes(k.public_key_info())
    bad = rewrite(bundle, tmp_path / "resigned.zip", forged)
    assert failed(bad) == set()  # self-consistent...
    args = argparse.Namespace(bundle=bad, json=False, trust=sorted(genuine), trusted_keys=None)
    assert verify_cmd.run(args) == 1  # ...but not by the court's keys
    trust_file = tmp_path / "court-keys.txt"
    trust_file.write_text("# Astana district court\n" + "\n".join(
        " ".join(k[i:i + 4] for i in range(0, 64, 4)) for k in genuine) + "\n")
    args = argparse.Namespace(bundle=bundle, json=False, trust=[], trusted_keys=trust_file)
    assert verify_cmd.run(args) == 0


def test_malformed_content_is_a_failed_check_not_a_crash(bundle, tmp_path):
    heads = load(bundle, "audit/tree_heads.json")
    del heads[0]["root_hash"]
    bad = rewrite(bundle, tmp_path / "malformed.zip",
                  {"audit/tree_heads.json": canonical_bytes(heads)})
    assert "audit log: readable" in failed(bad)
    bad = rewrite(bundle, tmp_path / "nojson.zip", {"versions/v0002.json": b"{not json"})
    assert failed(bad) == {"bundle"}


def test_judges_signature_removed_leaves_the_stenogram_unsigned(bundle, tmp_path):
    s3 = load(bundle, "signatures/v0003.json")
    bad = rewrite(bundle, tmp_path / "nojudge.zip", {"signatures/v0003.json": canonical_bytes(s3[:1])})
    assert failed(bad) == {"latest version is signed by secretary and judge"}
