"""Resumable evidence uploads: hashed while streaming, resumable after a dropped connection or
a server restart, size and hash checked, validated, committed whole into the blob store."""

import asyncio
import hashlib
import json
import stat

import pytest

from media.blobstore import BlobStore
from media.evidence import (EvidenceRejected, HashMismatch, OffsetMismatch, UploadBusy,
                            UploadIncomplete, UploadManager, UploadNotFound, UploadOptions,
                            UploadTooLarge)
from support.media_samples import make_media


async def chunks(data: bytes, size: int = 7000, fail_after: int | None = None):
    """A request body as aiohttp yields it; ``fail_after`` bytes then the connection drops."""
    sent = 0
    for i in range(0, len(data), size):
        if fail_after is not None and sent >= fail_after:
            raise ConnectionResetError("client went away")
        piece = data[i:i + size]
        sent += len(piece)
        yield piece
        await asyncio.sleep(0)


@pytest.fixture
def media_bytes(tmp_path):
    return make_media(tmp_path / "incident.mp4", "mp4-h264", seconds=2.0).read_bytes()


@pytest.fixture
def store(tmp_path):
    return BlobStore(tmp_path / "blobs")


def small(**kw):
    return UploadOptions(buffer_bytes=16 << 10, checkpoint_bytes=32 << 10, min_free_bytes=0, **kw)


def blobs(store):
    return list(store.iter_blobs())


async def test_upload_in_chunks_gives_a_receipt_and_a_read_only_blob(store, media_bytes):
    m = UploadManager(store, small())
    digest = hashlib.sha256(media_bytes).hexdigest()
    st = await m.create(filename="../../etc/passwd", size=len(media_bytes), sha256=digest,
                        content_type="video/mp4", meta={"user": 7, "remote": "10.0.0.5"})
    half = len(media_bytes) // 2
    st = await m.append(st.id, 0, chunks(media_bytes[:half]))
    assert st.offset == half
    st = await m.append(st.id, half, chunks(media_bytes[half:]))
    receipt = await m.complete(st.id)
    assert (receipt.sha256, receipt.size) == (digest, len(media_bytes))
    assert receipt.filename == "../../etc/passwd"  # kept as data only
    assert receipt.meta == {"user": 7, "remote": "10.0.0.5"}
    assert receipt.media.kind == "video" and receipt.media.has_audio
    assert not receipt.already_stored
    path = store.path_for(digest)
    assert path.read_bytes() == media_bytes
    assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert blobs(store) == [path]
    assert not any(p.suffix == ".part" for p in m.dir.iterdir())
    # asking again (a lost response) gives the same receipt
    again = await m.complete(st.id)
    assert again.sha256 == digest and again.received_at == receipt.received_at
    json.dumps(receipt.to_json())


async def test_same_bytes_twice_share_one_blob(store, media_bytes):
    m = UploadManager(store, small())
    receipts = []
    for _ in range(2):
        st = await m.create(filename="a.mp4", size=len(media_bytes))
        await m.append(st.id, 0, chunks(media_bytes))
        receipts.append(await m.complete(st.id))
    assert receipts[0].sha256 == receipts[1].sha256
    assert [r.already_stored for r in receipts] == [False, True]
    assert len(blobs(store)) == 1


async def test_dropped_connection_resumes_at_the_right_offset_with_the_same_hash(store, media_bytes):
    m = UploadManager(store, small())
    st = await m.create(filename="call.mp4", size=len(media_bytes))
    with pytest.raises(ConnectionResetError):
        await m.append(st.id, 0, chunks(media_bytes, fail_after=21000))
    offset = (await m.status(st.id)).offset
    assert offset == 21000  # every byte that arrived is kept
    with pytest.raises(OffsetMismatch) as e:
        await m.append(st.id, 0, chunks(media_bytes))
    assert e.value.details["offset"] == offset and e.value.http_status == 409
    await m.append(st.id, offset, chunks(media_bytes[offset:]))
    receipt = await m.complete(st.id)
    assert receipt.sha256 == hashlib.sha256(media_bytes).hexdigest()


async def test_upload_survives_a_server_restart(store, media_bytes):
    m = UploadManager(store, small())
    st = await m.create(filename="call.mp4", size=len(media_bytes),
                        sha256=hashlib.sha256(media_bytes).hexdigest())
    await m.append(st.id, 0, chunks(media_bytes[:30000]))
    # a new process: nothing in memory, the running hash is gone
    m2 = UploadManager(store, small())
    assert [s.id for s in m2.recover()] == [st.id]
    st2 = await m2.status(st.id)
    assert st2.offset == 30000 and st2.filename == "call.mp4"
    await m2.append(st.id, 30000, chunks(media_bytes[30000:]))
    receipt = await m2.complete(st.id)
    assert receipt.sha256 == hashlib.sha256(media_bytes).hexdigest()


async def test_bytes_after_the_last_checkpoint_are_cut_back_on_restart(store, media_bytes):
    m = UploadManager(store, small())
    st = await m.create(size=len(media_bytes))
    await m.append(st.id, 0, chunks(media_bytes[:10000]))
    with open(m.dir / f"{st.id}.part", "ab") as f:  # written but never acknowledged
        f.write(b"junk" * 100)
    m2 = UploadManager(store, small())
    m2.recover()
    assert (await m2.status(st.id)).offset == 10000
    await m2.append(st.id, 10000, chunks(media_bytes[10000:]))
    assert (await m2.complete(st.id)).sha256 == hashlib.sha256(media_bytes).hexdigest()


async def test_declared_hash_mismatch_discards_the_upload(store, media_bytes):
    m = UploadManager(store, small())
    st = await m.create(size=len(media_bytes), sha256="0" * 64)
    await m.append(st.id, 0, chunks(media_bytes))
    with pytest.raises(HashMismatch) as e:
        await m.complete(st.id)
    assert e.value.details["received"] == hashlib.sha256(media_bytes).hexdigest()
    assert blobs(store) == []
    with pytest.raises(UploadNotFound):
        await m.status(st.id)


async def test_incomplete_upload_cannot_be_completed(store, media_bytes):
    m = UploadManager(store, small())
    st = await m.create(size=len(media_bytes))
    await m.append(st.id, 0, chunks(media_bytes[:100]))
    with pytest.raises(UploadIncomplete):
        await m.complete(st.id)
    assert blobs(store) == []


async def test_size_limits(store, media_bytes):
    m = UploadManager(store, small(max_bytes=len(media_bytes) - 1))
    with pytest.raises(UploadTooLarge) as e:
        await m.create(size=len(media_bytes))
    assert e.value.http_status == 413
    # size not declared: refused while streaming, and nothing is kept
    st = await m.create()
    with pytest.raises(UploadTooLarge):
        await m.append(st.id, 0, chunks(media_bytes))
    with pytest.raises(UploadNotFound):
        await m.status(st.id)
    assert list(m.dir.iterdir()) == []
    # more than declared: the extra is not written
    m = UploadManager(store, small())
    st = await m.create(size=1000)
    with pytest.raises(UploadTooLarge):
        await m.append(st.id, 0, chunks(media_bytes))
    assert (await m.status(st.id)).offset == 1000
    assert (m.dir / f"{st.id}.part").stat().st_size == 1000


async def test_default_limit_is_two_gibibytes():
    assert UploadOptions().max_bytes == 2 * 1024 ** 3


async def test_rejected_media_never_becomes_a_blob(store):
    m = UploadManager(store, small())
    html = b"<!DOCTYPE html><html><body>not a video</body></html>"
    st = await m.create(filename="incident.mp4", size=len(html), content_type="video/mp4")
    await m.append(st.id, 0, chunks(html))
    with pytest.raises(EvidenceRejected) as e:
        await m.complete(st.id)
    assert "HTML" in e.value.message
    assert e.value.details["sha256"] == hashlib.sha256(html).hexdigest()
    assert blobs(store) == [] and list(m.dir.iterdir()) == []


async def test_a_retry_takes_over_from_a_half_open_connection(store, media_bytes):
    m = UploadManager(store, small())
    st = await m.create(size=len(media_bytes))

    async def stalled():  # the phone switched networks; this connection will never finish
        yield media_bytes[:1000]
        await asyncio.Event().wait()

    old = asyncio.create_task(m.append(st.id, 0, stalled()))
    await asyncio.sleep(0.05)
    with pytest.raises(OffsetMismatch) as e:  # the retry is told where the old one stopped
        await m.append(st.id, 0, chunks(media_bytes))
    assert e.value.details["offset"] == 1000
    with pytest.raises(asyncio.CancelledError):
        await old
    await m.append(st.id, 1000, chunks(media_bytes[1000:]))
    assert (await m.complete(st.id)).sha256 == hashlib.sha256(media_bytes).hexdigest()


async def test_without_takeover_a_second_writer_is_refused(store, media_bytes):
    m = UploadManager(store, small(takeover=False))
    st = await m.create(size=len(media_bytes))
    gate = asyncio.Event()

    async def slow():
        yield media_bytes[:1000]
        await gate.wait()

    first = asyncio.create_task(m.append(st.id, 0, slow()))
    await asyncio.sleep(0.05)
    with pytest.raises(UploadBusy):
        await m.append(st.id, 0, chunks(media_bytes))
    with pytest.raises(UploadBusy):
        await m.complete(st.id)
    gate.set()
    assert (await first).offset == 1000


async def test_cancelled_request_keeps_what_arrived(store, media_bytes):
    m = UploadManager(store, small())
    st = await m.create(size=len(media_bytes))

    async def stalls():
        yield media_bytes[:5000]
        await asyncio.sleep(3600)

    task = asyncio.create_task(m.append(st.id, 0, stalls()))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await m.status(st.id)).offset == 5000
    await m.append(st.id, 5000, chunks(media_bytes[5000:]))
    assert (await m.complete(st.id)).sha256 == hashlib.sha256(media_bytes).hexdigest()


async def test_ids_are_never_paths(store):
    m = UploadManager(store, small())
    for bad in ("../../etc/passwd", "x", "a" * 200, "....................."):
        with pytest.raises(UploadNotFound):
            await m.status(bad)


async def test_recover_removes_orphans_and_expire_removes_idle_uploads(store, media_bytes):
    m = UploadManager(store, small())
    st = await m.create(size=len(media_bytes))
    await m.append(st.id, 0, chunks(media_bytes[:100]))
    (m.dir / ("Z" * 24 + ".part")).write_bytes(b"orphan")
    m2 = UploadManager(store, small())
    assert [s.id for s in m2.recover()] == [st.id]
    assert not (m.dir / ("Z" * 24 + ".part")).exists()
    assert await m2.expire(older_than_s=3600) == []
    assert await m2.expire(older_than_s=0) == [st.id]
    assert list(m.dir.iterdir()) == []


async def test_upload_is_refused_when_the_disk_would_fill(store):
    import shutil
    free = shutil.disk_usage(store.root).free
    m = UploadManager(store, UploadOptions(min_free_bytes=free))
    with pytest.raises(Exception) as e:
        await m.create(size=1)
    assert getattr(e.value, "http_status", None) == 507
    assert list(m.dir.iterdir()) == []


async def test_crash_between_commit_and_receipt_is_finished_on_retry(store, media_bytes):
    m = UploadManager(store, small())
    st = await m.create(filename="a.mp4", size=len(media_bytes))
    await m.append(st.id, 0, chunks(media_bytes))
    digest = hashlib.sha256(media_bytes).hexdigest()
    # what complete() had done when the power went: state marked, blob renamed, no receipt
    state_path = m.dir / f"{st.id}.json"
    state = json.loads(state_path.read_text())
    state["completing"] = digest
    state_path.write_text(json.dumps(state))
    store.commit_temp(m.dir / f"{st.id}.part", digest)
    m2 = UploadManager(store, small())
    m2.recover()
    receipt = await m2.complete(st.id)
    assert receipt.sha256 == digest and receipt.size == len(media_bytes)
    assert receipt.media.kind == "video" and receipt.filename == "a.mp4"
    with pytest.raises(OffsetMismatch):
        await m2.append(st.id, len(media_bytes), chunks(b"more"))


async def test_disk_space_counts_what_running_uploads_have_announced(store):
    import shutil
    free = shutil.disk_usage(store.root).free
    m = UploadManager(store, UploadOptions(min_free_bytes=0, max_bytes=free))
    await m.create(size=free * 2 // 3)
    with pytest.raises(Exception) as e:  # alone it would fit; with the first one it cannot
        await m.create(size=free * 2 // 3)
    assert getattr(e.value, "http_status", None) == 507
