"""Redacted copies of a version: words, segments, time ranges and evidence are replaced by the
mark (timings kept), the copy names its original by hash, and the check names every
difference the declared spans do not explain."""

from __future__ import annotations

import copy

import pytest

from stenogram import Ed25519Signer, build_version, segment_from_final
from stenogram.canonical import canonical_bytes, canonical_sha256
from stenogram.redaction import (MARK, MARK_KK, RedactionError, check_redaction,
                                 redact, redacted_version, redaction_signature_problems,
                                 redaction_statement)
from stenogram.signing import b64
from stenogram.version import signature_record

SHA = "ab" * 32


def seg(source, start, words, lang="ru", sid=None):
    return segment_from_final({
        "source_id": source, "start_ms": start, "end_ms": words[-1][2],
        "text": " ".join(w[0] for w in words), "language": lang, "model": "m",
        "words": [{"text": w[0], "start_ms": w[1], "end_ms": w[2], "probability": 0.9}
                  for w in words]}, speaker=source, segment_id=sid)


@pytest.fixture
def version():
    segs = [seg("p1", 1000, [("Меня", 1000, 1200), ("зовут", 1200, 1500),
                             ("Иванов", 1500, 1900), ("Пётр", 1900, 2200)], sid="s1"),
            seg("p2", 3000, [("Мекенжайым", 3000, 3600), ("Алматы", 3600, 4000)], "kk", "s2"),
            seg("p1", 5000, [("Адрес", 5000, 5400), ("улица", 5400, 5800),
                             ("Абая", 5800, 6100)], sid="s3")]
    return build_version(
        hearing={"id": 7, "title": "дело"}, participants=[{"id": "p1"}, {"id": "p2"}],
        segments=segs, revisions_head={"count": 3, "head_hash": "0" * 64},
        recordings=[{"sha256": SHA, "size": 10, "source_id": "p1", "start_ms": 0,
                     "end_ms": 9000, "kind": "recording"},
                    {"sha256": "cd" * 32, "size": 10, "source_id": "p2", "start_ms": 0,
                     "end_ms": 9000, "kind": "recording"}],
        evidence=[{"sha256": "ef" * 32, "size": 3, "name": "фото паспорта.jpg",
                   "evidence_id": 4}],
        created_at="2026-01-01T00:00:00Z",
        notes=[{"id": 1, "at_ms": 5500, "role": "secretary", "text": "адрес свидетеля"}])


def test_words_segment_time_and_evidence(version):
    doc = version.document
    spans = [{"kind": "words", "segment_id": "s1", "start": 2, "end": 4, "reason": "ст. 7"},
             {"kind": "segment", "segment_id": "s2", "reason": "тайна"},
             {"kind": "time", "start_ms": 5400, "end_ms": 6000, "source_id": "p1",
              "reason": "адрес"},
             {"kind": "evidence", "evidence_id": 4, "reason": "персональные данные"}]
    derived = {SHA: {"sha256": "11" * 32, "size": 9}}
    red = redact(doc, spans, derived=derived)
    s1, s2, s3 = red["segments"]
    assert s1["text"] == f"Меня зовут {MARK}"
    assert [w[0] for w in s1["words"]] == ["Меня", "зовут", MARK, MARK]
    assert [w[1:3] for w in s1["words"]] == [w[1:3] for w in doc["segments"][0]["words"]]
    assert s2["text"] == MARK_KK and all(w[0] == MARK_KK for w in s2["words"])
    assert s3["text"] == f"Адрес {MARK}" and [w[0] for w in s3["words"]] == ["Адрес", MARK, MARK]
    assert red["notes"][0]["text"] == MARK
    assert red["evidence"][0]["name"] == MARK and red["evidence"][0]["withheld"]
    p1, p2 = red["recordings"]
    assert p1["sha256"] == "11" * 32 and p1["redacts_sha256"] == SHA
    assert p2.get("withheld")  # s2's audio is of p2, which has no derived copy
    assert red["redacts"] == {"sha256": version.sha256, "number": 1}
    assert "Иванов" not in canonical_bytes(red).decode()
    # canonical, so it hashes and signs like a version; the original is untouched
    assert redacted_version(red).sha256 == canonical_sha256(red)
    assert doc["segments"][0]["text"] == "Меня зовут Иванов Пётр"
    assert check_redaction(doc, red) == []


def test_a_change_outside_the_spans_is_named(version):
    doc = version.document
    red = redact(doc, [{"kind": "words", "segment_id": "s1", "start": 2, "end": 3,
                        "reason": "ст. 7"}])
    assert red["segments"][0]["text"] == f"Меня зовут {MARK} Пётр"
    bad = copy.deepcopy(red)
    bad["segments"][2]["text"] = "Адрес улица Ленина"
    problems = check_redaction(doc, bad)
    assert len(problems) == 1 and problems[0].startswith("segment s3.text differs")
    # inside the declared span the text must be the mark, not anything else
    bad = copy.deepcopy(red)
    bad["segments"][0]["text"] = "Меня зовут Петров Пётр"
    assert any("segment s1.text" in p for p in check_redaction(doc, bad))
    # a word's timing outside the span, the hearing's metadata: named
    bad = copy.deepcopy(red)
    bad["segments"][0]["words"][3][1] = 1950
    bad["hearing"]["title"] = "другое"
    problems = check_redaction(doc, bad)
    assert "segment s1.words[3][1] differs from the original (1900 → 1950)" in problems
    assert any(p.startswith("document.hearing.title differs") for p in problems)


def test_the_copy_names_its_original(version):
    doc = version.document
    red = redact(doc, [{"kind": "segment", "segment_id": "s1", "reason": "тайна"}])
    assert check_redaction(doc, red) == []
    other = copy.deepcopy(doc)
    other["segments"][2]["text"] = "Адрес улица Ленина"
    problems = check_redaction(other, red)
    assert any("not this original" in p for p in problems)
    with pytest.raises(RedactionError):
        redact(red, [{"kind": "segment", "segment_id": "s1", "reason": "x"}])


def test_bad_spans_are_refused(version):
    doc = version.document
    for sp in ({"kind": "segment", "segment_id": "nope", "reason": "x"},
               {"kind": "words", "segment_id": "s1", "start": 3, "end": 9, "reason": "x"},
               {"kind": "time", "start_ms": 5, "end_ms": 5, "reason": "x"},
               {"kind": "evidence", "evidence_id": 99, "reason": "x"},
               {"kind": "segment", "segment_id": "s1", "reason": "  "},
               {"kind": "other", "reason": "x"}):
        with pytest.raises(RedactionError):
            redact(doc, [sp])
    with pytest.raises(RedactionError):
        redact(doc, [])


def test_signatures_on_the_copy(version):
    red = redacted_version(redact(version.document, [
        {"kind": "segment", "segment_id": "s1", "reason": "тайна"}]))
    sec, judge = Ed25519Signer.generate(owner="sec"), Ed25519Signer.generate(owner="judge")
    sigs = []
    for signer, role in ((sec, "secretary"), (judge, "judge")):
        st = redaction_statement(red, role=role, user_id="1", name=role, signatures=sigs)
        sigs.append(signature_record(st, algorithm=signer.algorithm, key_id=signer.key_id,
                                     signature=signer.sign(canonical_bytes(st))))
    keys = {k.key_id: k.public_key_info() for k in (sec, judge)}
    assert redaction_signature_problems(red, sigs, keys) == []
    forged = copy.deepcopy(sigs)
    forged[0]["signature"] = b64(b"\0" * 64)
    assert redaction_signature_problems(red, forged, keys)
    with pytest.raises(RedactionError):
        redaction_statement(red, role="judge", user_id="1", name="j", signatures=sigs)
