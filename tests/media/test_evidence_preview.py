"""Previews: the small copy a judge watches before deciding covers only the start of the file,
fits a small frame, has no thumbnail, reports progress against what it covers, and is a job of
its own beside the full playback copy of the same original."""

from dataclasses import replace

import av
import pytest

from media.blobstore import BlobStore
from media.evidence import PREVIEW_OPTIONS, Transcoder, validate_file
from support.media_samples import make_image, make_media


async def test_a_preview_covers_the_start_in_a_small_frame(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    tc = Transcoder(store)
    ref = store.put_file(make_media(tmp_path / "v.mp4", "mp4-h264", seconds=6.0, width=1280,
                                    height=720))
    info = validate_file(ref.path)
    progress = []
    preview = tc.submit(ref.sha256, info, on_progress=lambda j: progress.append(j.progress),
                        options=replace(PREVIEW_OPTIONS, limit_s=2.0, progress_interval_s=0))
    full = tc.submit(ref.sha256, info)
    assert full is not preview  # the same original, another copy
    (copy,) = await preview.wait()
    assert copy.role == "playback" and copy.mime == "video/mp4"
    assert copy.recipe["limit_s"] == 2.0
    assert copy.duration_s == pytest.approx(2.0, abs=0.3)
    with av.open(str(store.path_for(copy.sha256))) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (640, 360)
    # progress is measured against the two seconds copied, not the whole six
    assert any(0.3 < p < 0.99 for p in progress), progress
    assert {d.role for d in await full.wait()} == {"playback", "thumbnail"}
    await tc.close()


async def test_a_photo_preview_is_one_display_picture(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    tc = Transcoder(store)
    ref = store.put_file(make_image(tmp_path / "p.jpg", "jpeg", 3000, 2000))
    (copy,) = await tc.submit(ref.sha256, validate_file(ref.path),
                              options=PREVIEW_OPTIONS).wait()
    assert copy.role == "display" and copy.mime == "image/jpeg"
    assert max(copy.width, copy.height) == PREVIEW_OPTIONS.display_max_side
    await tc.close()
