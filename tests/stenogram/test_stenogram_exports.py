"""Court documents: PDF and DOCX protocol, TXT, SRT, WebVTT and JSON, with Kazakh and Russian."""

import io
import json
import re
import shutil
import subprocess
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from pathlib import Path

import pytest

from stenogram.canonical import canonical_sha256
from stenogram.export import protocol_from_version
from stenogram.export import fonts
from stenogram.export.docx import render_docx
from stenogram.export.pdf import render_pdf
from stenogram.export.text import render_json, render_srt, render_txt, render_vtt
from stenogram.revisions import Transcript
from stenogram.segments import segment_from_final
from stenogram.signing import Ed25519Signer
from stenogram.version import build_version, sign_version

from support.synthetic import build_synthetic_hearing

ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts" / "stenogram"  # git-ignored
# the opening time in the court's zone, from this machine's tz database (Almaty moved to UTC+5
# in 2024; an older database says +6, and the document must agree with the machine's clock rules)
OPENED_LOCAL = datetime(2026, 3, 17, 4, 0, tzinfo=timezone.utc).astimezone(
    ZoneInfo("Asia/Almaty")).strftime("%d.%m.%Y %H:%M:%S Asia/Almaty")
KAZ = "ә ғ қ ң ө ұ ү һ і Ә Ғ Қ Ң Ө Ұ Ү Һ І"


@pytest.fixture(scope="module")
def signed():
    """A small signed hearing whose text has every Kazakh letter, a Russian line and markup."""
    t = Transcript()
    lines = [("mic-1", "p-judge", f"Сот отырысы ашық. Әріптер: {KAZ}."),
             ("web-a", "p-witness", "Я, свидетель, предупреждён об ответственности <ст. 420>."),
             ("mic-1", "p-judge", "Үзіліс жарияланады & отырыс 14:00-де жалғасады.")]
    for i, (src, who, text) in enumerate(lines):
        t.add_machine_segment(segment_from_final(
            {"source_id": src, "start_ms": 61_000 + i * 10_000, "end_ms": 68_500 + i * 10_000,
             "text": text, "language": "kk"}, speaker=who, segment_id=f"s{i}"))
    hearing = {"id": "h7", "court": "Алматы қаласының мамандандырылған ауданаралық соты",
               "case_number": "7599-26-00-2/155", "title": "Қылмыстық іс", "date": "2026-03-17",
               "opened_at": "2026-03-17T04:00:00.000Z", "timezone": "Asia/Almaty",
               "composition": [{"role": "judge", "name": "Әсел Ғалымқызы Құрманова"}]}
    people = [{"id": "p-judge", "name": "Әсел Құрманова", "role": "judge"},
              {"id": "p-witness", "name": "Ідірісов Һарун", "role": "witness"},
              {"id": "p-sec", "name": "Өмір Ұлықбек", "role": "secretary"}]
    v = build_version(hearing=hearing, participants=people, segments=t.segments(),
                      revisions_head=t.head())
    sec, judge = Ed25519Signer.generate(), Ed25519Signer.generate()
    sigs = [sign_version(v, sec, role="secretary", user_id="p-sec", name="Өмір Ұлықбек")]
    sigs.append(sign_version(v, judge, role="judge", user_id="p-judge", name="Әсел Құрманова",
                             signatures=sigs))
    return v, sigs, judge


def test_pdf_embeds_a_font_with_kazakh_letters_and_has_the_protocol_parts(signed, tmp_path):
    v, sigs, judge = signed
    try:
        pdf = render_pdf(protocol_from_version(v, sigs))
    except fonts.FontNotFound as e:
        pytest.skip(str(e))
    assert pdf.startswith(b"%PDF")
    path = tmp_path / "protocol.pdf"
    path.write_bytes(pdf)
    if not shutil.which("pdftotext"):
        pytest.skip("poppler-utils (pdftotext, pdffonts, pdftoppm) not installed")
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    for letter in KAZ.split():
        assert letter in text, letter
    for needle in ("7599-26-00-2/155", "Әсел Құрманова", "Ідірісов Һарун", "<ст. 420>",
                   "[00:01:01]", "[00:01:11]", OPENED_LOCAL,
                   judge.key_id[:4].upper(), "Свидетель Ідірісов Һарун", v.sha256):
        assert needle in text.replace("\n", " ") or needle in text, needle
    listing = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
    assert re.search(r"TrueType\s+\S+\s+yes", listing), listing  # embedded, not referenced
    # render the page and see ink on it (the image was also looked at by eye in development)
    out = subprocess.run(["pdftoppm", "-r", "30", "-gray", "-f", "1", "-l", "1", str(path)],
                         capture_output=True, check=True).stdout
    assert out.startswith(b"P5")
    header = out.split(b"\n", 3)
    pixels = header[3]
    dark = sum(1 for px in pixels if px < 128)
    assert dark > 500, dark
    # keep the document and a readable page image for a person to look at
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "protocol.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "100", "-png", "-f", "1", "-l", "1", "-singlefile",
                    str(path), str(ARTIFACTS / "protocol-page1")], check=True)


def test_font_finder_refuses_a_font_without_kazakh_letters(monkeypatch, tmp_path):
    bad = tmp_path / "nothing.ttf"
    bad.write_bytes(b"not a font")
    monkeypatch.setenv("COURTROOM_PDF_FONT", str(bad))
    fonts.find_fonts.cache_clear()
    try:
        with pytest.raises(fonts.FontNotFound, match="Kazakh"):
            fonts.find_fonts()
    finally:
        monkeypatch.delenv("COURTROOM_PDF_FONT")
        fonts.find_fonts.cache_clear()


def test_docx_has_metadata_record_and_signature_block(signed):
    from docx import Document
    v, sigs, judge = signed
    d = Document(io.BytesIO(render_docx(protocol_from_version(v, sigs))))
    body = "\n".join(p.text for p in d.paragraphs)
    cells = "\n".join(c.text for t in d.tables for r in t.rows for c in r.cells)
    assert "СОТ ОТЫРЫСЫНЫҢ ХАТТАМАСЫ" in body and "НЕ ПОДПИСАНО" not in body
    assert f"[00:01:01] Судья Әсел Құрманова: Сот отырысы ашық. Әріптер: {KAZ}." in body
    assert "7599-26-00-2/155" in cells and "Ідірісов Һарун" in cells
    assert "Секретарь / Хатшы\nӨмір Ұлықбек" in cells
    assert judge.key_id[:4].upper() in cells and "17.03.2026" in cells


def test_txt_srt_vtt_follow_the_hearing_clock(signed):
    v, sigs, _ = signed
    p = protocol_from_version(v, sigs)
    txt = render_txt(p)
    assert "[00:01:21] Судья Әсел Құрманова: Үзіліс жарияланады & отырыс" in txt
    assert "Ed25519".lower() in txt and v.sha256 in txt
    srt = render_srt(p)
    assert srt.startswith("1\n00:01:01,000 --> 00:01:08,500\nӘсел Құрманова: Сот отырысы")
    assert "\n3\n00:01:21,000 --> 00:01:28,500\n" in srt
    vtt = render_vtt(p)
    assert vtt.startswith("WEBVTT\n\n1\n00:01:01.000 --> 00:01:08.500\n<v Әсел Құрманова>")
    assert "&lt;ст. 420&gt;" in vtt and "<ст. 420>" not in vtt  # cue text markup escaped
    assert "&amp; отырыс" in vtt


def test_json_export_is_the_signed_version_and_rehashes(signed):
    v, sigs, _ = signed
    data = json.loads(render_json(protocol_from_version(v, sigs)))
    assert canonical_sha256(data["document"]) == data["sha256"] == v.sha256
    assert [s["statement"]["role"] for s in data["signatures"]] == ["secretary", "judge"]


def test_unsigned_version_is_marked_in_every_document():
    h = build_synthetic_hearing(segments=20, revisions=2, versions=1)
    p = protocol_from_version(h.versions[0], [])
    assert not p.signed
    assert "НЕ ПОДПИСАНО" in render_txt(p)
    from docx import Document
    d = Document(io.BytesIO(render_docx(p)))
    assert any("НЕ ПОДПИСАНО" in x.text for x in d.paragraphs)
