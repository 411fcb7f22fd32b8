"""The hearing protocol as DOCX (python-docx), for courts that edit or file Word documents."""

from __future__ import annotations

import io

from .protocol import LABELS, Protocol, clock, role_name

FONT = "Times New Roman"  # has Kazakh Cyrillic in every Word installation


def render_docx(p: Protocol) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    d = Document()
    st = d.styles["Normal"]
    st.font.name, st.font.size = FONT, Pt(11)
    rpr = st.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        rfonts.set(qn(attr), FONT)

    for line in LABELS["title"].split("\n"):
        para = d.add_paragraph()
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = para.add_run(line)
        run.bold, run.font.size = True, Pt(14)
    if not p.signed:
        para = d.add_paragraph()
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = para.add_run(LABELS["unsigned"])
        run.bold, run.font.color.rgb = True, RGBColor(0xB0, 0, 0)

    head = [(LABELS["court"], p.court), (LABELS["case"], p.case_number),
            (LABELS["subject"], p.title), (LABELS["date"], p.date),
            (LABELS["opened"], p.opened_at)]
    table = d.add_table(rows=0, cols=2)
    for k, v in head:
        cells = table.add_row().cells
        cells[0].text, cells[1].text = k, v
    for label, people in ((LABELS["composition"], p.composition),
                          (LABELS["participants"], p.participants)):
        d.add_heading(label, level=2)
        t = d.add_table(rows=0, cols=2)
        for r, n in people:
            cells = t.add_row().cells
            cells[0].text, cells[1].text = role_name(r), n

    d.add_heading(LABELS["record"], level=2)
    for e in p.entries:
        para = d.add_paragraph()
        para.paragraph_format.space_after = Pt(2)
        if e.kind == "note":
            mark = para.add_run(f"{e.label} ")
            mark.bold = mark.italic = True
            para.add_run(e.text).italic = True
            continue
        t = para.add_run(f"[{clock(e.start_ms)}] ")
        t.font.color.rgb = RGBColor(0x55, 0x55, 0x55)
        if e.kind == "gap":
            para.add_run(e.text).italic = True
            continue
        para.add_run(f"{e.label}: ").bold = True
        para.add_run(e.text)

    d.add_heading(LABELS["signatures"], level=2)
    sig = d.add_table(rows=1, cols=3)
    sig.style = "Table Grid"
    for cell, text in zip(sig.rows[0].cells, (LABELS["signer"], LABELS["signed_at"], LABELS["key"])):
        cell.text = text
    for s in p.signatures:
        cells = sig.add_row().cells
        cells[0].text = f"{role_name(s.role)}\n{s.name}"
        cells[1].text = s.signed_at
        cells[2].text = f"{s.algorithm}\n{s.fingerprint}"
    if not p.signatures:
        sig.add_row().cells[0].text = LABELS["unsigned"]
    small = d.add_paragraph().add_run("\n".join(p.version_lines))
    small.font.size = Pt(8)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()
