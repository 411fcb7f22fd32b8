"""The secretary checks the text against the audio while the hearing runs: a witness's phone
speaks (real WebRTC, real Whisper), and the editor plays the recording on across its two-second
chunks as they close, with the word being played highlighted, at the chosen speed; typing a
correction pauses playback and it resumes by itself; "follow the live audio" jumps to the
newest chunks; muting the witness shows as a gap row in the transcript."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from conftest import StaffApi, admit, join_lobby, shot

pytestmark = pytest.mark.slow

#: What the page shows and plays at one moment.
SAMPLE = """() => {
  const a = document.querySelector('#player');
  return {url: a.dataset.url || '', paused: a.paused, rate: a.playbackRate,
          pos: document.querySelector('#player-pos').textContent,
          word: document.body.dataset.currentWord || ''};
}"""


def seconds(clock: str) -> int:
    h, m, s = (int(x) for x in clock.split(":"))
    return h * 3600 + m * 60 + s


def wait_for(what, probe, timeout_s: float, every_s: float = 1.0):
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every_s)


def test_secretary_plays_a_live_hearing_across_chunks(server, make_context, artifacts):
    judge = StaffApi(make_context(), "judge")
    hid = judge.hearing(secretary_id=server.users["secretary"])["id"]
    inv = judge.invite(hid, "witness", "Сидоров С.С.")
    pid = inv["participant"]["id"]
    source = f"p{pid}"
    judge.post(f"/api/hearings/{hid}/transitions", {"to": "open"})
    phone = join_lobby(make_context(phone=True).new_page(), inv["link"])
    admit(judge, hid, inv, phone)

    # The witness has said something the machine wrote down, and there is audio after it.
    def spoken():
        segs = [s for s in judge.get(f"/api/hearings/{hid}/transcript")["segments"]
                if s["source_id"] == source and len(s["words"]) >= 3]
        chunks = [r for r in judge.get(f"/api/hearings/{hid}/recordings")["recordings"]
                  if r["source_id"] == source]
        return segs and chunks and max(c["end_ms"] for c in chunks) > segs[0]["start_ms"] + 8000
    wait_for("a final and eight seconds of audio after it", spoken, 180)

    ctx = make_context()
    StaffApi(ctx, "secretary")
    page = ctx.new_page()
    page.goto(f"/secretary/{hid}")
    audio = page.locator("#player")
    page.get_by_label("Скорость").select_option("1.5")
    seg = page.locator(f'#segments .segment[data-source="{source}"]').first
    seg.locator(".word").first.click()
    expect(page.locator("#player-source")).to_have_text("Сидоров С.С. (Свидетель)")
    expect(audio).to_have_js_property("paused", False)

    # Thirty seconds of the hearing, played on across the chunks as they close.
    samples = [page.evaluate(SAMPLE)]
    start = seconds(samples[0]["pos"])
    deadline = time.monotonic() + 150
    while seconds(samples[-1]["pos"]) < start + 30:
        assert time.monotonic() < deadline, f"playback stopped: {samples[-3:]}"
        page.wait_for_timeout(400)
        samples.append(page.evaluate(SAMPLE))
    urls = [s["url"] for s in samples]
    played = [u for i, u in enumerate(urls) if i == 0 or u != urls[i - 1]]
    assert len(played) >= 3, played  # two chunk boundaries at least
    assert len(set(played)) == len(played), "a chunk was played twice"
    assert all(re.search(r"/recordings/c\d+/audio$", u) for u in played)
    positions = [seconds(s["pos"]) for s in samples]
    assert positions == sorted(positions), positions  # on, never back to a chunk's start
    assert len({s["word"] for s in samples if s["word"]}) >= 2  # the highlight moved on
    assert {s["rate"] for s in samples} == {1.5}  # the speed holds across chunks
    shot(page, artifacts, "secretary-live-playback")

    # Typing a correction pauses playback; it resumes by itself, or at once on Ctrl+Space.
    expect(audio).to_have_js_property("paused", False)
    seg.get_by_role("button", name="Править").click()
    box = page.get_by_label("Текст сегмента")
    box.press_sequentially(" да", delay=60)
    expect(audio).to_have_js_property("paused", True)
    expect(audio).to_have_js_property("paused", False)
    box.press_sequentially(" нет", delay=60)
    expect(audio).to_have_js_property("paused", True)
    page.keyboard.press("Control+Space")
    expect(audio).to_have_js_property("paused", False)
    box.press("Escape")
    expect(page.locator("#segments textarea")).to_have_count(0)

    # Back to the start, then "follow the live audio": it jumps to the newest chunks.
    seg.locator(".word").first.click()
    expect(page.locator("#player-pos")).to_have_text(re.compile(r"^0:00:"))
    page.get_by_label("Следить за эфиром").check()
    newest = max(r["end_ms"] for r in judge.get(f"/api/hearings/{hid}/recordings")["recordings"]
                 if r["source_id"] == source)
    wait_for("playback near the live edge",
             lambda: seconds(page.evaluate(SAMPLE)["pos"]) >= newest // 1000 - 8, 30, 0.5)
    # A click on a word is a choice to listen there: following stops.
    seg.locator(".word").first.click()
    expect(page.get_by_label("Следить за эфиром")).not_to_be_checked()

    # The judge mutes the witness for a while: the editor marks the gap at its time.
    judge.post(f"/api/hearings/{hid}/participants/{pid}/mute", {"muted": True})
    gap = page.locator("#segments .gap-row")
    expect(gap).to_contain_text("Микрофон Сидоров С.С. (Свидетель) выключен")
    page.wait_for_timeout(2500)
    judge.post(f"/api/hearings/{hid}/participants/{pid}/mute", {"muted": False})
    expect(gap).to_have_text(re.compile(r"был выключен \d+ с"))
    page.reload()
    expect(page.locator("#segments .gap-row")).to_have_text(re.compile(r"был выключен \d+ с"))
    expect(page.get_by_label("Скорость")).to_have_value("1.5")  # kept in this browser
    shot(page, artifacts, "secretary-live-gap")
    assert not ctx.js_errors
