"""Fixity audit: a flipped byte, a missing file or a wrong size is reported, by the library
and by `courtroom fixity`."""

import argparse
import json
import os
import stat

from hearing.commands import fixity as fixity_command
from media.blobstore import BlobStore
from media.evidence import check_fixity


def flip_a_byte(path, at=100):
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    with open(path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0x01]))
    os.chmod(path, stat.S_IRUSR)


def cli(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir")
    parser.add_argument("--config")
    fixity_command.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_intact_store_passes(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    refs = [store.put_bytes(os.urandom(5000)) for _ in range(3)]
    report = check_fixity(store, {r.sha256: r.size for r in refs})
    assert report.ok and report.checked == 3 and report.bytes == 15000
    assert report.findings == [] and report.unreferenced == []


def test_flipped_byte_missing_file_and_wrong_size_are_reported(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    a, b, c = (store.put_bytes(os.urandom(4000 + i)) for i in range(3))
    flip_a_byte(a.path)
    os.chmod(b.path, stat.S_IWUSR | stat.S_IRUSR)
    b.path.unlink()
    extra = store.put_bytes(b"not referenced by the database")
    expected = {a.sha256: a.size, b.sha256: b.size, c.sha256: c.size + 1}
    report = check_fixity(store, expected)
    assert not report.ok
    found = {(f.problem, f.sha256) for f in report.findings}
    assert found == {("changed", a.sha256), ("missing", b.sha256), ("size", c.sha256)}
    assert report.unreferenced == [extra.sha256]


def test_writable_blob_is_a_warning(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    r = store.put_bytes(b"x" * 100)
    os.chmod(r.path, stat.S_IRUSR | stat.S_IWUSR)
    report = check_fixity(store)
    assert report.ok and [f.problem for f in report.findings] == ["writable"]


def test_courtroom_fixity_command(tmp_path, capsys):
    store = BlobStore(tmp_path / "blobs")
    good = store.put_bytes(os.urandom(3000))
    bad = store.put_bytes(os.urandom(3000))
    assert cli(["--data-dir", str(tmp_path), "fixity"]) == 0
    assert "2 blobs" in capsys.readouterr().out
    flip_a_byte(bad.path, at=2999)
    assert cli(["--data-dir", str(tmp_path), "fixity"]) == 1
    out = capsys.readouterr().out
    assert "CHANGED" in out and bad.sha256 in out and good.sha256 not in out
    assert cli(["--data-dir", str(tmp_path), "fixity", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [f["sha256"] for f in report["findings"]] == [bad.sha256]
    assert cli(["--data-dir", str(tmp_path / "nowhere"), "fixity"]) == 2
