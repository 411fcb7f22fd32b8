"""Secretary corrections: the machine's text survives every change, each change is attributable
and hash-linked, word timings stay clickable, and any revision can be brought back."""

import pytest

from stenogram.revisions import (GENESIS, Revision, RevisionError, Transcript, chain_problems,
                                 retime_words)
from stenogram.segments import SegmentError, Word, segment_from_final

EVENT = {"type": "final", "source_id": "mic-3", "start_ms": 10_000, "end_ms": 13_000,
         "text": " Сот отырысы ашық деп жариялаймын",
         "words": [[" Сот", 10_000, 10_400, 0.91], [" отырысы", 10_450, 11_100, 0.88],
                   [" ашық", 11_150, 11_600, 0.95], [" деп", 11_650, 11_900, 0.97],
                   [" жариялаймын", 11_950, 13_000, 0.9]],
         "language": "kk", "model": "whisper-base"}


def make(n=1):
    t = Transcript()
    for i in range(n):
        ev = dict(EVENT, start_ms=EVENT["start_ms"] + i * 5000, end_ms=EVENT["end_ms"] + i * 5000,
                  words=[[w[0], w[1] + i * 5000, w[2] + i * 5000, w[3]] for w in EVENT["words"]])
        t.add_machine_segment(segment_from_final(ev, speaker="p-judge", segment_id=f"s{i}"))
    return t


def test_final_event_becomes_a_segment_and_bad_events_are_refused():
    s = segment_from_final(EVENT, speaker="p-judge", segment_id="s0")
    assert s.text == "Сот отырысы ашық деп жариялаймын"
    assert s.words[1] == Word(" отырысы", 10_450, 11_100, 0.88)
    assert (s.source_id, s.language, s.model, s.speaker) == ("mic-3", "kk", "whisper-base", "p-judge")
    with pytest.raises(SegmentError):
        segment_from_final({k: v for k, v in EVENT.items() if k != "start_ms"})
    with pytest.raises(SegmentError):
        segment_from_final(dict(EVENT, end_ms=1))


def test_edit_keeps_machine_original_and_records_who_when_why():
    t = make()
    rev = t.edit_text("s0", "Сот отырысы ашық деп жариялаймын!", author="u-secretary",
                      reason="пунктуация", at="2026-03-17T05:00:00.000Z")
    assert t.segment("s0").text.endswith("!")
    assert (rev.author, rev.reason, rev.at, rev.kind) == (
        "u-secretary", "пунктуация", "2026-03-17T05:00:00.000Z", "edit_text")
    assert rev.prev_hash == t.revisions[0].hash and t.revisions[0].prev_hash == GENESIS
    hist = t.history("s0")
    assert [r.kind for r in hist] == ["asr", "edit_text"]
    view = t.history_view("s0")
    assert view[0]["before"] == [] and view[0]["author"] == "asr:whisper-base"
    assert view[1]["before"][0]["text"] == "Сот отырысы ашық деп жариялаймын"
    assert view[1]["after"][0]["text"].endswith("!") and view[1]["reason"] == "пунктуация"
    assert hist[0].payload["put"][0]["text"] == "Сот отырысы ашық деп жариялаймын"
    with pytest.raises(RevisionError):
        t.edit_text("s0", "x", author="")  # an anonymous correction is refused
    with pytest.raises(RevisionError):
        t.edit_text("nope", "x", author="u")


def test_word_timings_kept_for_unchanged_words_and_estimated_for_edited_span():
    t = make()
    t.edit_text("s0", "Сот отырысы жабық деп жариялаймын", author="u-secretary")
    w = t.segment("s0").words
    assert [x.text for x in w] == ["Сот", "отырысы", "жабық", "деп", "жариялаймын"]
    assert (w[0].start_ms, w[0].end_ms, w[0].probability) == (10_000, 10_400, 0.91)
    assert (w[3].start_ms, w[3].end_ms) == (11_650, 11_900)
    # the replaced word takes the replaced word's moment, marked as not recognised
    assert (w[2].start_ms, w[2].end_ms, w[2].probability) == (11_150, 11_600, None)
    # an inserted word lands between its neighbours
    t.edit_text("s0", "Сот отырысы жабық деп бүгін жариялаймын", author="u-secretary")
    w = t.segment("s0").words
    assert w[3].end_ms <= w[4].start_ms <= w[4].end_ms <= w[5].start_ms
    assert w[5].start_ms == 11_950


def test_retime_words_keeps_timing_through_case_and_punctuation_fixes():
    old = [Word(" привет", 0, 300, 0.9), Word(" мир", 350, 700, 0.8)]
    new = retime_words(old, "Привет, мир.", 0, 700)
    assert [(x.start_ms, x.end_ms) for x in new] == [(0, 300), (350, 700)]
    assert all(x.probability is None for x in new)  # changed spelling: not the machine's word
    assert retime_words([], "два слова", 1000, 2000)[1].end_ms == 2000


def test_speaker_change_split_merge_and_restore():
    t = make(3)
    t.set_speaker("s1", "p-witness", author="u-secretary", reason="говорил свидетель")
    assert t.segment("s1").speaker == "p-witness"
    t.split("s0", 2, author="u-secretary", new_ids=("s0a", "s0b"))
    a, b = t.segment("s0a"), t.segment("s0b")
    assert (a.text, b.text) == ("Сот отырысы", "ашық деп жариялаймын")
    assert a.end_ms == 11_100 and b.start_ms == 11_150 and b.words[0].start_ms == 11_150
    assert "s0" not in t.state and a.parents == ("s0",)
    t.merge(["s2", "s1"], author="u-secretary", new_id="m")
    m = t.segment("m")
    assert m.start_ms == 15_000 and m.end_ms == 23_000 and m.parents == ("s1", "s2")
    assert m.text.count("Сот") == 2 and len(m.words) == 10
    assert [x.segment_id for x in t.segments()] == ["s0a", "s0b", "m"]
    # history of the merged segment reaches back to both machine originals
    assert {r.seq for r in t.history("m")} >= {1, 2}
    # restore: a new revision, the history keeps everything
    t.edit_text("s0a", "Сот залы", author="u-secretary")
    before = t.revisions[-2].seq
    rev = t.restore("s0a", before, author="u-secretary", reason="ошибка")
    assert t.segment("s0a").text == "Сот отырысы" and rev.kind == "restore"
    assert len(t.revisions) == 8 and chain_problems(t.revisions) == []
    with pytest.raises(RevisionError):
        t.merge(["s0a", "nope"], author="u")


def test_chain_round_trips_through_dicts_and_any_change_breaks_it():
    t = make(2)
    t.edit_text("s1", "Жаңа мәтін", author="u-secretary")
    rows = [r.to_dict() for r in t.revisions]
    t2 = Transcript.from_dicts(rows)
    assert [s.to_dict() for s in t2.segments()] == [s.to_dict() for s in t.segments()]
    rows[0]["payload"]["put"][0]["text"] = "Подменённый текст"
    with pytest.raises(RevisionError, match="hash"):
        Transcript.from_dicts(rows)
    rows = [r.to_dict() for r in t.revisions]
    del rows[1]
    assert any("link" in p for p in chain_problems([Revision.from_dict(r) for r in rows]))


from hypothesis import given, settings, strategies as st  # noqa: E402

VOCAB = ["сот", "іс", "куә", "дело", "суд", "ответ", "Үкім", "қаулы", "да", "нет"]


@settings(max_examples=150, deadline=None)
@given(old=st.lists(st.sampled_from(VOCAB), min_size=0, max_size=12),
       new=st.lists(st.sampled_from(VOCAB), min_size=1, max_size=14),
       gaps=st.lists(st.integers(0, 400), min_size=12, max_size=12))
def test_retimed_words_one_per_token_in_order_and_inside_the_segment(old, new, gaps):
    words, t = [], 1000
    for tok, g in zip(old, gaps):
        words.append(Word(" " + tok, t, t + 200, 0.9))
        t += 200 + g
    end = max(t, 1500)
    got = retime_words(words, " ".join(new), 1000, end)
    assert [w.text for w in got] == new
    assert all(1000 <= w.start_ms <= w.end_ms <= end for w in got)
    assert all(a.end_ms <= b.start_ms for a, b in zip(got, got[1:]))
    kept = {(w.start_ms, w.end_ms) for w in words}
    assert all((w.start_ms, w.end_ms) in kept for w in got if w.probability is not None)
