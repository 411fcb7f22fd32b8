"""Playback copies: made in the background with progress, web-playable (H.264/AAC MP4 for
video, Opus/WebM for sound), upright, with a thumbnail; linked to an original never touched."""

import asyncio
import hashlib
from fractions import Fraction

import av
import numpy as np
import pytest

from media.blobstore import BlobStore
from media.evidence import (QueueFull, TranscodeFailed, TranscodeOptions, Transcoder,
                            validate_file)
from support.media_samples import RECIPES, make_image, make_media


async def run_job(store, tc, path):
    ref = store.put_file(path)
    before = hashlib.sha256(ref.path.read_bytes()).hexdigest()
    updates = []
    job = tc.submit(ref.sha256, validate_file(ref.path),
                    on_progress=lambda j: updates.append((j.state, j.progress)))
    derivatives = await job.wait()
    assert hashlib.sha256(ref.path.read_bytes()).hexdigest() == before == ref.sha256
    assert all(d.source_sha256 == ref.sha256 and d.sha256 != ref.sha256 for d in derivatives)
    assert updates[-1] == ("done", 1.0) and job.to_json()["state"] == "done"
    return {d.role: d for d in derivatives}


def streams_of(store, d):
    with av.open(str(store.path_for(d.sha256))) as c:
        return c.format.name, [(s.type, s.codec_context.name) for s in c.streams]


@pytest.mark.parametrize("recipe", ["mp4-h264", "webm-vp8", "mov-h264", "mov-hevc", "mkv-mjpeg"])
async def test_video_gets_an_h264_aac_mp4_and_a_thumbnail(tmp_path, recipe):
    store = BlobStore(tmp_path / "blobs")
    tc = Transcoder(store)
    src = make_media(tmp_path / f"v{RECIPES[recipe].suffix}", recipe, seconds=1.5)
    out = await run_job(store, tc, src)
    play, thumb = out["playback"], out["thumbnail"]
    assert play.mime == "video/mp4" and play.duration_s == pytest.approx(1.5, abs=0.15)
    fmt, streams = streams_of(store, play)
    assert "mp4" in fmt and streams == [("video", "h264"), ("audio", "aac")]
    data = store.path_for(play.sha256).read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # plays before it has fully downloaded
    assert thumb.mime == "image/jpeg" and store.path_for(thumb.sha256).read_bytes()[:3] == b"\xff\xd8\xff"
    await tc.close()


@pytest.mark.parametrize("recipe", ["wav", "mp3", "m4a-aac", "ogg-opus"])
async def test_sound_gets_opus_webm(tmp_path, recipe):
    store = BlobStore(tmp_path / "blobs")
    tc = Transcoder(store)
    src = make_media(tmp_path / f"a{RECIPES[recipe].suffix}", recipe, seconds=1.0)
    out = await run_job(store, tc, src)
    assert set(out) == {"playback"}
    assert out["playback"].mime == "audio/webm"
    assert streams_of(store, out["playback"])[1] == [("audio", "opus")]
    await tc.close()


async def test_phone_video_is_turned_upright_and_scaled(tmp_path):
    src = tmp_path / "portrait.mp4"
    with av.open(str(src), "w", format="mp4") as out:
        s = out.add_stream("libx264", rate=60)
        s.width, s.height, s.pix_fmt = 1920, 1080, "yuv420p"
        s.options = {"preset": "ultrafast"}
        s.set_display_rotation(90)  # a phone held upright records sideways plus a flag
        for i in range(30):
            img = np.zeros((1080, 1920, 3), np.uint8)
            img[:200, :200] = 255  # white mark in the stored top-left corner
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, 60)
            out.mux(s.encode(f))
        out.mux(s.encode())
    store = BlobStore(tmp_path / "blobs")
    tc = Transcoder(store)
    out = await run_job(store, tc, src)
    play = out["playback"]
    assert (play.width, play.height) == (404, 720)  # portrait, fits 1280x720
    with av.open(str(store.path_for(play.sha256))) as c:
        assert c.streams.video[0].average_rate == 30  # 60 fps capped
        frame = next(c.decode(video=0)).to_ndarray(format="gray")
    h, w = frame.shape
    assert frame[-h // 10:, : w // 10].mean() > 150  # the mark is now bottom-left
    assert frame[: h // 10, : w // 10].mean() < 50
    await tc.close()


async def test_photo_gets_a_display_copy_and_thumbnail(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    tc = Transcoder(store, TranscodeOptions(display_max_side=1024))
    out = await run_job(store, tc, make_image(tmp_path / "p.png", "png", 1600, 1200))
    assert (out["display"].width, out["display"].height) == (1024, 768)
    assert (out["thumbnail"].width, out["thumbnail"].height) == (320, 240)
    await tc.close()


async def test_queue_is_bounded_and_duplicates_share_a_job(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    tc = Transcoder(store, TranscodeOptions(queue_size=1))
    refs = [store.put_file(make_media(tmp_path / f"{i}.wav", "wav", seconds=0.5 + i))
            for i in range(3)]
    first = tc.submit(refs[0].sha256)
    assert tc.submit(refs[0].sha256) is first
    tc.submit(refs[1].sha256)  # waits behind the first
    with pytest.raises(QueueFull):
        tc.submit(refs[2].sha256)
    await first.wait()
    await tc.close()


async def test_progress_is_reported_and_a_job_can_be_cancelled(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    tc = Transcoder(store, TranscodeOptions(progress_interval_s=0))
    src = make_media(tmp_path / "long.mp4", "mp4-h264", seconds=4.0, width=320, height=240)
    out = await run_job(store, tc, src)
    assert out["playback"].recipe["video"]["codec"] == "h264"
    seen = []
    src2 = make_media(tmp_path / "other.mp4", "mp4-h264", seconds=4.0, width=320, height=240,
                      fps=10)
    ref = store.put_file(src2)
    job = tc.submit(ref.sha256, on_progress=lambda j: seen.append(j.progress))
    await job.wait()
    middle = [p for p in seen if 0 < p < 1]
    assert middle and middle == sorted(middle)

    ref3 = store.put_file(make_media(tmp_path / "third.mp4", "mp4-h264", seconds=4.0))
    before = set(store.iter_blobs())

    def stop_soon(j):
        if j.progress > 0:
            j.cancel()

    job = tc.submit(ref3.sha256, on_progress=stop_soon)
    with pytest.raises(TranscodeFailed, match="cancelled"):
        await job.wait()
    await asyncio.sleep(0)
    assert job.state == "cancelled"
    assert set(store.iter_blobs()) == before  # nothing half-made was stored
    await tc.close()


async def test_queue_takes_hearings_in_turn(tmp_path):
    """Two hearings' jobs queued at once: one hearing's backlog does not hold back the other."""
    store = BlobStore(tmp_path / "blobs")
    tc = Transcoder(store)
    started = []

    def submit(name, group, i):
        ref = store.put_file(make_media(tmp_path / f"{name}.wav", "wav", seconds=0.2 + i / 10))
        return tc.submit(ref.sha256, on_progress=lambda j: j.state == "running"
                         and name not in started and started.append(name), group=group)

    jobs = [submit(name, name[0], i) for i, name in enumerate(["A1", "A2", "A3", "B1", "B2"])]
    for job in jobs:
        await job.wait()
    await asyncio.sleep(0)
    assert started == ["A1", "B1", "A2", "B2", "A3"]
    await tc.close()


async def test_a_copy_over_the_budget_is_refused_before_any_work(tmp_path):
    """4K declared for an hour, or any picture for longer than the limit: refused with a
    reason at once, the original untouched, nothing decoded."""
    import dataclasses
    store = BlobStore(tmp_path / "blobs")
    tc = Transcoder(store)
    ref = store.put_file(make_media(tmp_path / "v.mp4", "mp4-h264", seconds=1.0))
    info = validate_file(ref.path)
    uhd = dataclasses.replace(info, duration_s=3600.0, streams=tuple(
        dataclasses.replace(s, width=3840, height=2160, fps=30.0) if s.type == "video" else s
        for s in info.streams))
    before = set(store.iter_blobs())
    states = []
    job = tc.submit(ref.sha256, uhd, on_progress=lambda j: states.append(j.state))
    with pytest.raises(TranscodeFailed, match="3840x2160 at 30 frames a second for 60 minutes"):
        await job.wait()
    await asyncio.sleep(0)
    assert states == ["failed"] and job.state == "failed" and "No playback copy" in job.error
    assert set(store.iter_blobs()) == before
    long = dataclasses.replace(info, duration_s=20 * 3600.0)
    with pytest.raises(TranscodeFailed, match="lasts 20.0 hours"):
        await tc.submit(ref.sha256, long).wait()
    # a 30-minute 1080p30 phone video is within the default budget
    phone = dataclasses.replace(uhd, duration_s=1800.0, streams=tuple(
        dataclasses.replace(s, width=1920, height=1080) if s.type == "video" else s
        for s in uhd.streams))
    from media.evidence.transcode import over_budget
    assert over_budget(phone, TranscodeOptions()) is None
    await tc.close()


async def test_copies_are_made_by_a_confined_child(tmp_path):
    """A copy that outgrows its limits kills the child, not the server: the job fails with a
    reason and nothing is stored."""
    from media.evidence.sandbox import SandboxLimits
    store = BlobStore(tmp_path / "blobs")
    tc = Transcoder(store, TranscodeOptions(sandbox=SandboxLimits(file_bytes=4096)))
    ref = store.put_file(make_media(tmp_path / "v.mp4", "mp4-h264", seconds=1.0))
    before = set(store.iter_blobs())
    job = tc.submit(ref.sha256, validate_file(ref.path))
    with pytest.raises(TranscodeFailed, match="File too large"):
        await job.wait()
    assert job.state == "failed" and set(store.iter_blobs()) == before
    assert list(store.tmp.iterdir()) == []
    await tc.close()
