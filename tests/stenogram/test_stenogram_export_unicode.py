"""Every court document can be written for every text the API accepts: Hypothesis draws text
from the whole Unicode range, the API's edge normalisation (hearing/text.py) cleans it, and a
signed version carrying it as a correction, a speaker's name and the case title is rendered in
every format. Text stored before the edge cleaned input (raw, with control characters and lone
surrogates) must render too: a signed version is never rewritten."""

import json

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from hearing.text import clean_json, clean_text
from stenogram.export import fonts, protocol_from_version
from stenogram.export.docx import render_docx
from stenogram.export.pdf import render_pdf
from stenogram.export.text import render_json, render_srt, render_txt, render_vtt
from stenogram.revisions import Transcript
from stenogram.segments import segment_from_final
from stenogram.signing import Ed25519Signer
from stenogram.version import build_version, sign_version

SEC, JUDGE = Ed25519Signer.generate(), Ed25519Signer.generate()
# every code point, surrogates included (st.text() alone leaves those out)
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=40)
# what a version can hold: canonical JSON (RFC 8785) refuses lone surrogates, so no signed
# version ever contained one
STORABLE_TEXT = st.text(st.characters(codec=None, exclude_categories=["Cs"]), max_size=40)


def _pdf_available() -> bool:
    try:
        fonts.find_fonts()
    except fonts.FontNotFound:
        return False
    return True


PDF = _pdf_available()


def _version(text: str):
    t = Transcript()
    t.add_machine_segment(segment_from_final(
        {"source_id": "mic-1", "start_ms": 1000, "end_ms": 4000, "text": "Заседание открыто",
         "language": "ru"}, speaker="p-judge", segment_id="s0"))
    if text.strip() and text.strip() != "Заседание открыто":
        t.edit_text("s0", text, author="u-sec", reason=text)
    t.set_speaker(t.segments()[0].segment_id, f"p-{text}", author="u-sec")
    hearing = {"id": "h1", "court": text, "case_number": "1-2/3", "title": text,
               "date": "2026-03-17", "opened_at": "2026-03-17T04:00:00.000Z",
               "timezone": "Asia/Almaty", "composition": [{"role": "judge", "name": text}]}
    people = [{"id": "p-judge", "name": "Судья", "role": "judge"},
              {"id": f"p-{text}", "name": text, "role": "witness"}]
    v = build_version(hearing=hearing, participants=people, segments=t.segments(),
                      revisions_head=t.head())
    sigs = [sign_version(v, SEC, role="secretary", user_id="u-sec", name=text)]
    sigs.append(sign_version(v, JUDGE, role="judge", user_id="u-judge", name="Судья",
                             signatures=sigs))
    return v, sigs


def _render_all(text: str) -> dict[str, bytes]:
    v, sigs = _version(text)
    p = protocol_from_version(v, sigs)
    out = {"docx": render_docx(p), "txt": render_txt(p).encode(),
           "srt": render_srt(p).encode(), "vtt": render_vtt(p).encode(),
           "json": render_json(p).encode()}
    if PDF:
        out["pdf"] = render_pdf(p)
    assert json.loads(out["json"])["sha256"] == v.sha256
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT)
@example("\ufffe\uffff \ue000 \U0010fffd \u2028\u200d \ud800\x0b")  # survive the edge but not XML
def test_every_format_is_written_for_any_text_the_api_accepts(raw):
    text = clean_text(raw)
    out = _render_all(text)
    assert json.loads(out["json"])["document"]["hearing"]["title"] == text
    _docx_document(out["docx"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STORABLE_TEXT)
def test_text_stored_before_the_edge_cleaned_it_still_renders(raw):
    _render_all(raw)


def test_vertical_tab_and_noncharacters_render_and_json_keeps_the_signed_text():
    raw = "Ответ\x0bсвидетеля\x00 \x85\ufffe\uffff \U0010fffd \ue000 \u2028 конец"
    out = _render_all(raw)
    doc = json.loads(out["json"])["document"]
    assert doc["hearing"]["title"] == raw  # exactly as signed
    assert "Ответ" in _docx_document(out["docx"])


@settings(max_examples=200, deadline=None)
@given(ANY_TEXT)
def test_edge_normalisation_is_idempotent_and_leaves_only_newline_and_tab(raw):
    text = clean_text(raw)
    assert clean_text(text) == text
    assert all(c in "\n\t" or not (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F) for c in text)
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in text)
    text.encode("utf-8")  # storable and writable


def test_edge_normalisation_walks_keys_and_refuses_keys_that_collide():
    got = clean_json({"e\u0301\x00": ["a\x0bb", {"k\r\n": "x\x85y"}], "n": 1, "t": True})
    assert got == {"\u00e9": ["ab", {"k\n": "xy"}], "n": 1, "t": True}
    with pytest.raises(ValueError):
        clean_json({"a\x00": 1, "a": 2})


def _docx_document(data: bytes) -> str:
    import io
    import zipfile
    from lxml import etree
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = z.read("word/document.xml")
    etree.fromstring(xml)
    return xml.decode()
