"""The recogniser's uncertainty mark in the record: kept by segments and versions without
changing what was signed before it existed, counted per version, printed in every document."""

import io

import pytest

from stenogram.canonical import canonical_sha256
from stenogram.export import protocol_from_version
from stenogram.export.docx import render_docx
from stenogram.export.text import render_srt, render_txt
from stenogram.revisions import Transcript
from stenogram.segments import Segment, Word, is_doubtful, segment_from_final
from stenogram.version import build_version, version_problems

#: canonical SHA-256 of this segment as the code before the mark wrote it
OLD_HASH = "c50d5f4d010e11684885e8e3a25c7640b19d9e573e0bb7d8b1687178ff175de8"


def judge_segment(**changes) -> Segment:
    return Segment("s1", "mic-1", 1000, 2500, "Суд идёт.",
                   (Word("Суд", 1000, 1400, 0.91), Word("идёт.", 1400, 2500, 0.87)), "ru",
                   "base", "p-judge", **changes)


def test_a_segment_without_the_mark_hashes_as_before():
    seg = judge_segment()
    assert "uncertain" not in seg.to_dict()
    assert canonical_sha256(seg.to_dict()) == OLD_HASH
    assert Segment.from_dict(seg.to_dict()) == seg


def test_a_marked_segment_keeps_its_reason_through_the_record():
    seg = judge_segment(uncertain="low_confidence")
    assert seg.to_dict()["uncertain"] == "low_confidence"
    assert canonical_sha256(seg.to_dict()) != OLD_HASH
    assert Segment.from_dict(seg.to_dict()) == seg
    final = segment_from_final({"source_id": "mic-1", "start_ms": 0, "end_ms": 900, "text": "",
                                "words": [], "uncertain": "unintelligible"}, segment_id="x")
    assert final.uncertain == "unintelligible" and final.text == ""


def hearing_version(language: str = "ru"):
    t = Transcript()
    finals = [("Суд идёт.", "", "ru"), ("Свидетель, назовите себя.", "low_confidence", "ru"),
              ("", "unintelligible", "ru"), ("", "unintelligible", "kk"),
              ("Мен куәгермін.", "language", "kk")]
    for i, (text, mark, lang) in enumerate(finals):
        t.add_machine_segment(segment_from_final(
            {"source_id": "mic-1", "start_ms": 1000 + i * 5000, "end_ms": 4000 + i * 5000,
             "text": text, "language": lang, "uncertain": mark}, speaker="p-judge",
            segment_id=f"s{i}"))
    hearing = {"id": "h1", "court": "Суд", "case_number": "1-1/26", "title": "Дело",
               "date": "2026-03-17", "opened_at": "2026-03-17T04:00:00.000Z",
               "language": language}
    people = [{"id": "p-judge", "name": "Иванов", "role": "judge"}]
    return build_version(hearing=hearing, participants=people, segments=t.segments(),
                         revisions_head=t.head())


def test_each_version_counts_its_uncertain_segments_and_old_ones_still_verify():
    v = hearing_version()
    assert v.document["uncertain_segments"] == 4 and v.uncertain_segments == 4
    assert version_problems(v) == []
    # A version signed before the count existed has no such key: it verifies as it was and is
    # counted from its segments.
    old_doc = {k: val for k, val in v.document.items() if k != "uncertain_segments"}
    from stenogram.version import StenogramVersion
    old = StenogramVersion(old_doc, canonical_sha256(old_doc))
    assert version_problems(old) == [] and old.uncertain_segments == 4


def test_each_version_counts_the_words_the_recogniser_doubted():
    """Words heard with less than DOUBTFUL_PROBABILITY are counted per version (the pages show
    them so) until the secretary has checked their segment against the recording."""
    t = Transcript()
    words = [["Свидетель", 1000, 1500, 0.97], ["Жанузакова", 1500, 2300, 0.41],
             ["подтвердила", 2300, 3000, 0.79], ["показания.", 3000, 3600, 0.8]]
    seg = segment_from_final(
        {"source_id": "mic-1", "start_ms": 1000, "end_ms": 3600, "language": "ru",
         "text": " ".join(w[0] for w in words), "words": words}, speaker="p-judge",
        segment_id="s0")
    t.add_machine_segment(seg)
    hearing = {"id": "h1", "court": "Суд", "case_number": "1-1/26", "title": "Дело",
               "date": "2026-03-17", "opened_at": "2026-03-17T04:00:00.000Z"}
    people = [{"id": "p-judge", "name": "Иванов", "role": "judge"}]
    v = build_version(hearing=hearing, participants=people, segments=t.segments(),
                      revisions_head=t.head())
    assert v.document["doubtful_words"] == 2 and v.doubtful_words == 2
    assert [is_doubtful(w.probability) for w in seg.words] == [False, True, True, False]
    # the secretary corrects the segment against the recording: it is checked, doubt and all
    t.edit_text(seg.segment_id, "Свидетель Жанузакова подтвердила свои показания.",
                author="sec")
    v2 = build_version(hearing=hearing, participants=people, segments=t.segments(),
                       revisions_head=t.head(), previous=v)
    assert v2.doubtful_words == 0
    old_doc = {k: val for k, val in v.document.items() if k != "doubtful_words"}
    from stenogram.version import StenogramVersion
    old = StenogramVersion(old_doc, canonical_sha256(old_doc))
    assert version_problems(old) == [] and old.doubtful_words == 2


def test_the_pages_show_the_same_words_as_doubtful():
    """The pages highlight the words each version counts: one threshold."""
    import re
    from pathlib import Path

    from stenogram.segments import DOUBTFUL_PROBABILITY
    js = (Path(__file__).resolve().parents[2] / "hearing/web/js/transcript.js").read_text()
    found = re.search(r"export const LOW_PROBABILITY = ([0-9.]+);", js)
    assert found and float(found.group(1)) == DOUBTFUL_PROBABILITY


def test_the_protocol_prints_the_mark_and_no_invented_text():
    v = hearing_version()
    txt = render_txt(protocol_from_version(v))
    lines = [line for line in txt.splitlines() if line.startswith("[00:")]
    assert lines[0].endswith("Судья Иванов: Суд идёт.")  # confident text: no mark
    assert lines[1].endswith("Свидетель, назовите себя. [распознано неуверенно]")
    assert lines[2].endswith("Судья Иванов: [неразборчиво]")
    assert lines[3].endswith("Судья Иванов: [анық емес]")
    assert lines[4].endswith("Мен куәгермін. [сенімсіз танылды]")
    srt = render_srt(protocol_from_version(v))
    assert "[неразборчиво]" in srt and "[распознано неуверенно]" in srt


def test_the_docx_protocol_prints_the_mark():
    docx = pytest.importorskip("docx")
    d = docx.Document(io.BytesIO(render_docx(protocol_from_version(hearing_version()))))
    body = "\n".join(p.text for p in d.paragraphs)
    assert "Иванов: [неразборчиво]" in body and "[анық емес]" in body
    assert "Свидетель, назовите себя. [распознано неуверенно]" in body
    assert "Суд идёт. [" not in body
