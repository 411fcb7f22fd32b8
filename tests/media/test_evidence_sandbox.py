"""Untrusted media is parsed in a confined child: a limit it hits, a crash or a hang is a
refusal, never a cost to the server; an MP4 index that declares more samples than the file can
hold is refused before any demuxer reads it."""

import io

import pytest

from media.evidence import EvidenceRejected, ValidationLimits, validate_file
from media.evidence.boxes import check_mp4_index
from media.evidence.sandbox import (SandboxFailed, SandboxLimits, run_sandboxed,
                                    validate_sandboxed)
from support.media_samples import make_media, mp4_bomb


async def test_the_child_is_killed_by_its_memory_limit_not_the_server():
    with pytest.raises(SandboxFailed, match="could not be read safely") as e:
        await run_sandboxed("builtins:bytearray", [1 << 30], SandboxLimits(memory_bytes=256 << 20))
    assert e.value.details["reason"] == "memory" and e.value.http_status == 422
    # the same allocation under a limit that allows it answers (the limit, not the call, failed)
    answer = await run_sandboxed("builtins:len", ["x" * 10], SandboxLimits(memory_bytes=256 << 20))
    assert answer["ok"] and answer["result"] == 10


async def test_the_child_has_its_limits_and_no_network_before_it_runs_anything():
    limits = SandboxLimits(memory_bytes=300 << 20, cpu_s=7)
    answer = await run_sandboxed("resource:getrlimit", [9], limits)  # RLIMIT_AS
    assert answer["result"] == [300 << 20, 300 << 20]
    assert (await run_sandboxed("resource:getrlimit", [0], limits))["result"][0] == 7  # CPU
    assert (await run_sandboxed("resource:getrlimit", [1], limits))["result"] == [0, 0]  # FSIZE
    with open("/proc/self/status") as f:
        root = any(line.split()[1:2] == ["0"] for line in f if line.startswith("Uid:"))
    if root:  # where namespaces may be created, the child sees only a loopback of its own
        answer = await run_sandboxed("socket:if_nameindex", [], limits)
        assert answer["network_isolated"] and [n for _, n in answer["result"]] == ["lo"]


async def test_a_child_that_hangs_is_killed_after_the_wall_clock_limit():
    with pytest.raises(SandboxFailed, match="took more than 1 s") as e:
        await run_sandboxed("time:sleep", [30], SandboxLimits(wall_s=1.0))
    assert e.value.details["reason"] == "timeout"


async def test_a_real_file_is_described_by_the_child(tmp_path):
    path = make_media(tmp_path / "v.mp4", "mp4-h264", seconds=1.0)
    info = await validate_sandboxed(path, ValidationLimits())
    assert info == validate_file(path)
    assert info.kind == "video" and info.has_audio and (info.width, info.height) == (160, 120)
    # the child's refusals keep their message and kind
    (tmp_path / "page.mp4").write_bytes(b"<html><body>hi</body></html>")
    with pytest.raises(EvidenceRejected, match="HTML") as e:
        await validate_sandboxed(tmp_path / "page.mp4", ValidationLimits())
    assert e.value.details["kind"] == "text"


def test_an_index_declaring_more_samples_than_the_file_holds_is_refused(tmp_path):
    bomb = mp4_bomb(tmp_path / "bomb.mp4")
    data = bomb.read_bytes()
    assert len(data) < 8192
    with pytest.raises(EvidenceRejected, match="80000000 samples") as e:
        validate_file(bomb)  # refused by the box walk, before FFmpeg sees the file
    assert e.value.details["kind"] == "absurd_index"
    # an honest file passes, and says how many samples it holds
    good = make_media(tmp_path / "good.mp4", "mp4-h264", seconds=1.0).read_bytes()
    assert 0 < check_mp4_index(io.BytesIO(good), len(good)) < len(good)


def test_damaged_box_tables_are_refused_without_reading_them(tmp_path):
    good = bytearray(make_media(tmp_path / "good.mp4", "mp4-h264", seconds=1.0).read_bytes())
    at = good.index(b"stco")
    good[at + 8:at + 12] = (10 ** 9).to_bytes(4, "big")  # a billion chunk offsets in a few bytes
    with pytest.raises(EvidenceRejected, match="too small"):
        check_mp4_index(io.BytesIO(bytes(good)), len(good))
