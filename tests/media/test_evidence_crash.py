"""A server killed with SIGKILL in the middle of an upload leaves no half-file under a blob
name; after the restart the upload resumes from its last checkpoint and the result hashes the
same as the file the client sent."""

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from media.blobstore import BlobStore
from media.evidence import UploadManager, UploadOptions
from support.media_samples import make_media

CHILD = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from media.blobstore import BlobStore
    from media.evidence import UploadManager, UploadOptions

    async def main(root, src):
        data = Path(src).read_bytes()
        m = UploadManager(BlobStore(Path(root)), UploadOptions(
            buffer_bytes=8192, checkpoint_bytes=16384, min_free_bytes=0))
        st = await m.create(filename="incident.mp4", size=len(data))
        print(st.id, flush=True)

        async def body():
            for i in range(0, len(data), 4096):
                yield data[i:i + 4096]
                await asyncio.sleep(0.01)  # a slow phone

        await m.append(st.id, 0, body())
        await m.complete(st.id)
        print("completed", flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""")


async def test_sigkill_mid_upload_leaves_no_blob_and_resumes(tmp_path):
    src = make_media(tmp_path / "incident.mp4", "mp4-h264", seconds=3.0)
    data = src.read_bytes()
    root = tmp_path / "blobs"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(root), str(src)],
                             stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    try:
        upload_id = child.stdout.readline().strip()
        state = root / "uploads" / f"{upload_id}.json"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait for a checkpoint beyond the start
            await asyncio.sleep(0.02)
            if json.loads(state.read_text()).get("offset", 0) > 0:
                break
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
    assert child.returncode == -signal.SIGKILL

    store = BlobStore(root)
    assert list(store.iter_blobs()) == []  # nothing half-made under a blob name
    m = UploadManager(store, UploadOptions(min_free_bytes=0))
    assert [s.id for s in m.recover()] == [upload_id]
    offset = (await m.status(upload_id)).offset
    assert 0 < offset < len(data)

    async def rest():
        yield data[offset:]

    await m.append(upload_id, offset, rest())
    receipt = await m.complete(upload_id)
    assert receipt.sha256 == hashlib.sha256(data).hexdigest()
    assert [p.name for p in store.iter_blobs()] == [receipt.sha256]
    assert store.path_for(receipt.sha256).read_bytes() == data
