"""A phone on a poor link asks for audio only: the server stops sending it the others' video
(the video stops crossing the network, not only the screen) while their audio goes on and the
other participants still see everybody; asked again, the video comes back. And senders get the
server's bandwidth estimate (REMB) for the video they send, which a browser adapts to."""

from __future__ import annotations

import asyncio

from support.testpeer import AUDIO_RATE, PacketVideoTrack, SignalTrack, TestPeer, remb_estimates, tone

from test_rtc_hearing import hearing, vp8, wait_for  # noqa: F401  (the room and VP8 fixtures)

NAMES = {"judge": 440.0, "witness": 620.0, "lawyer": 820.0}


async def test_audio_only_receiver_gets_no_video_until_it_asks_again(hearing, vp8):
    peers = {n: await hearing.join(n, SignalTrack(tone(f, 1.0)), PacketVideoTrack(vp8)) for n, f in NAMES.items()}
    judge_remb = remb_estimates(peers["judge"].pc)
    witness, lawyer = peers["witness"], peers["lawyer"]
    await wait_for(lambda: all(p.video_frames_from(o) > 20 and len(p.audio_from(o)) > AUDIO_RATE
                               for n, p in peers.items() for o in NAMES if o != n))

    await hearing.room.handle_message("witness", {"type": "receive", "video": False})
    assert not witness.errors
    await asyncio.sleep(1.0)  # what was already on its way arrives
    video0 = {o: witness.video_frames_from(o) for o in ("judge", "lawyer")}
    audio0 = {o: len(witness.audio_from(o)) for o in ("judge", "lawyer")}
    seen0 = lawyer.video_frames_from("judge")
    await asyncio.sleep(3.0)
    assert {o: witness.video_frames_from(o) for o in ("judge", "lawyer")} == video0
    for o in ("judge", "lawyer"):  # the audio goes on: about 3 s of it in 3 s
        assert len(witness.audio_from(o)) - audio0[o] > 2 * AUDIO_RATE
    assert lawyer.video_frames_from("judge") > seen0 + 30  # the others still see everybody
    # the witness still sends its own video to the others
    assert peers["judge"].video_frames_from("witness") > 60

    # a reconnect keeps the wish: no video on the new connection either
    witness.video_frames.clear()
    await witness.join()
    await wait_for(lambda: len(witness.audio_from("judge")) > AUDIO_RATE // 2)
    await asyncio.sleep(1.5)
    assert witness.video_frames_from("judge") == 0 and witness.video_frames_from("lawyer") == 0

    await hearing.room.handle_message("witness", {"type": "receive", "video": True})
    await wait_for(lambda: witness.video_frames_from("judge") > 15 and witness.video_frames_from("lawyer") > 15)
    # the server's receiving side tells each sender what its link carries
    await wait_for(lambda: judge_remb)
    assert all(b > 0 for b in judge_remb)
    await hearing.close()


async def test_receive_request_is_checked(hearing, vp8):
    witness = await hearing.join("witness", SignalTrack(tone(620.0, 1.0)), PacketVideoTrack(vp8))
    await hearing.room.handle_message("witness", {"type": "receive", "video": "no"})
    assert witness.errors[-1]["in_reply_to"] == "receive"
    stranger = hearing.peers["stranger"] = TestPeer("stranger", lambda m: None)
    await hearing.room.handle_message("stranger", {"type": "receive", "video": False})
    assert stranger.errors and "stranger" not in hearing.room.participants
    await hearing.close()
