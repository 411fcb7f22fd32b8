"""A phone on a poor link: "audio only" stops the others' video crossing the network to it,
not only its screen, and pressing it again brings the video back; the phone's camera is sent
at a lower resolution, frame rate and bitrate while the browser's estimate of the link is poor,
and at full quality again once it recovers."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from conftest import StaffApi, admit, admitted_phone, join_lobby

pytestmark = pytest.mark.slow

#: Keeps the page's peer connections reachable from the test (the page holds them privately).
TRACK_PCS = """
window.__pcs = [];
const Native = window.RTCPeerConnection;
window.RTCPeerConnection = class extends Native {
  constructor(...args) { super(...args); window.__pcs.push(this); }
};
"""

VIDEO_BYTES_IN = """async () => {
  const pc = window.__pcs[window.__pcs.length - 1];
  let bytes = 0;
  (await pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") bytes += s.bytesReceived || 0;
  });
  return bytes;
}"""

SENT_VIDEO_LIMITS = """() => {
  const pc = window.__pcs[window.__pcs.length - 1];
  const sender = pc.getSenders().find((s) => s.track && s.track.kind === "video");
  const e = sender && sender.getParameters().encodings[0];
  return e ? [e.maxBitrate || null, e.maxFramerate || null, e.scaleResolutionDownBy || null] : null;
}"""


def grows(page, seconds: float) -> int:
    """Bytes of video the page received in the next ``seconds``."""
    before = page.evaluate(VIDEO_BYTES_IN)
    time.sleep(seconds)
    return page.evaluate(VIDEO_BYTES_IN) - before


def wait_until(predicate, timeout: float = 45.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.5)


def test_audio_only_stops_incoming_video_and_resumes(server, make_context):
    judge = StaffApi(make_context(), "judge")
    h = judge.hearing()
    judge.post(f"/api/hearings/{h['id']}/transitions", {"to": "open"})
    _, plaintiff, p_inv = admitted_phone(make_context, judge, h["id"], name="Петрова П.П.")
    inv = judge.invite(h["id"], role="witness", name="Сидоров С.С.")
    ctx = make_context(phone=True)
    ctx.add_init_script(TRACK_PCS)
    witness = join_lobby(ctx.new_page(), inv["link"])
    admit(judge, h["id"], inv, witness)
    tile = witness.locator(f'#tiles .tile[data-source="p{p_inv["participant"]["id"]}"]')
    expect(tile).to_contain_text("Петрова П.П.", timeout=45_000)
    wait_until(lambda: witness.evaluate(VIDEO_BYTES_IN) > 20_000)
    # the link adaptation has set its first (full) level on the camera's sender
    wait_until(lambda: witness.evaluate(SENT_VIDEO_LIMITS) == [900_000, 30, 1])

    witness.locator("#audio-only").click()
    expect(witness.locator("#audio-only")).to_have_attribute("aria-pressed", "true")
    time.sleep(2)  # what was on its way arrives
    assert grows(witness, 3) == 0
    expect(tile).to_have_class(re.compile(r"\bspeaking\b"), timeout=30_000)  # still heard

    witness.locator("#audio-only").click()
    wait_until(lambda: grows(witness, 1.5) > 5_000)


#: A camera sent over a real peer connection inside the page, adapted by bandwidth.js; the
#: browser's estimate of the link (availableOutgoingBitrate) is what the test sets in window.link.
ADAPTED_CAMERA = """async () => {
  const { adaptToLink } = await import("/static/js/bandwidth.js");
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  a.addTrack(stream.getVideoTracks()[0], stream);
  await a.setLocalDescription(); await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(); await a.setRemoteDescription(b.localDescription);
  window.link = { available: 2e6 };
  const real = a.getStats.bind(a);
  a.getStats = async () => {
    const out = new Map();
    (await real()).forEach((s, k) => out.set(k, s.type !== "candidate-pair" ? s
      : { ...s, nominated: true, state: "succeeded", availableOutgoingBitrate: window.link.available }));
    return out;
  };
  const rtc = new EventTarget();
  rtc.pc = a;
  window.ctl = adaptToLink(rtc, { periodMs: 100, settleMs: 500 });
  window.sent = async () => {
    const e = a.getSenders()[0].getParameters().encodings[0];
    let width = 0;
    (await real()).forEach((s) => { if (s.type === "outbound-rtp" && s.kind === "video") width = s.frameWidth || 0; });
    return { level: window.ctl.level, maxBitrate: e.maxBitrate, maxFramerate: e.maxFramerate, width };
  };
}"""


def test_camera_steps_down_on_a_poor_link_and_back_up(server, make_context):
    page = make_context(phone=True).new_page()
    page.goto(server.base + "/")
    page.evaluate(ADAPTED_CAMERA)
    wait_until(lambda: page.evaluate("window.sent()")["width"] == 640)
    assert page.evaluate("window.sent()")["maxBitrate"] == 900_000
    page.evaluate("window.link.available = 100000")  # a poor link: 100 kbit/s
    wait_until(lambda: page.evaluate("window.sent()")["level"] == 2)
    wait_until(lambda: page.evaluate("window.sent()")["width"] == 160)  # a quarter of the size
    assert page.evaluate("window.sent()") == {"level": 2, "maxBitrate": 120_000, "maxFramerate": 12, "width": 160}
    page.evaluate("window.link.available = 3000000")  # it recovers
    wait_until(lambda: page.evaluate("window.sent()")["width"] == 640)
    assert page.evaluate("window.sent()")["maxBitrate"] == 900_000
