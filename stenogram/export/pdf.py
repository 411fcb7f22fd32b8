"""The hearing protocol as PDF (reportlab), with an embedded TrueType font that has the Kazakh
and Russian letters (see fonts.py; a PDF standard font would print boxes for ә ғ қ ң ө ұ ү һ і)."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from .fonts import find_fonts
from .protocol import LABELS, Protocol, clock, role_name

FONT, FONT_BOLD = "CourtSans", "CourtSans-Bold"


def _register() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    pair = find_fonts()
    pdfmetrics.registerFont(TTFont(FONT, str(pair.regular)))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(pair.bold)))
    from reportlab.lib.fonts import addMapping
    addMapping(FONT, 0, 0, FONT)
    addMapping(FONT, 1, 0, FONT_BOLD)
    addMapping(FONT, 0, 1, FONT)
    addMapping(FONT, 1, 1, FONT_BOLD)


def _e(text: str) -> str:
    return escape(text).replace("\n", "<br/>")


def render_pdf(p: Protocol) -> bytes:
    """The protocol as PDF bytes (A4). Raises fonts.FontNotFound with install advice if no
    suitable font exists on this machine."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table,
                                    TableStyle)

    _register()
    base = ParagraphStyle("base", fontName=FONT, fontSize=10, leading=13)
    title = ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=14, leading=18,
                           alignment=1, spaceAfter=8)
    h2 = ParagraphStyle("h2", parent=base, fontName=FONT_BOLD, fontSize=11.5, leading=15,
                        spaceBefore=8, spaceAfter=4)
    entry = ParagraphStyle("entry", parent=base, leftIndent=18 * mm, firstLineIndent=-18 * mm,
                           spaceAfter=2.5)
    small = ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5)

    story = [Paragraph(_e(LABELS["title"]), title)]
    if not p.signed:
        story.append(Paragraph(f"<font color='#b00000'>{_e(LABELS['unsigned'])}</font>", title))
    head = [(LABELS["court"], p.court), (LABELS["case"], p.case_number),
            (LABELS["subject"], p.title), (LABELS["date"], p.date),
            (LABELS["opened"], p.opened_at)]
    grid = TableStyle([("FONT", (0, 0), (-1, -1), FONT, 9.5), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                       ("BOTTOMPADDING", (0, 0), (-1, -1), 2), ("TOPPADDING", (0, 0), (-1, -1), 1)])
    story.append(Table([[Paragraph(_e(k), base), Paragraph(_e(v), base)] for k, v in head],
                       colWidths=[45 * mm, 125 * mm], style=grid, hAlign="LEFT"))
    for label, people in ((LABELS["composition"], p.composition),
                          (LABELS["participants"], p.participants)):
        story.append(Paragraph(_e(label), h2))
        if people:
            story.append(Table([[Paragraph(_e(role_name(r)), base), Paragraph(_e(n), base)]
                                for r, n in people], colWidths=[55 * mm, 115 * mm], style=grid,
                               hAlign="LEFT"))
    story.append(Paragraph(_e(LABELS["record"]), h2))
    for e in p.entries:
        if e.kind == "note":
            story.append(Paragraph(f"<font color='#555555'><b><i>{_e(e.label)}</i></b></font>"
                                   f"&nbsp;&nbsp;<i>{_e(e.text)}</i>", entry))
            continue
        story.append(Paragraph(
            f"<font color='#555555'>[{clock(e.start_ms)}]</font>&nbsp;&nbsp;"
            + (f"<i>{_e(e.text)}</i>" if e.kind == "gap"
               else f"<b>{_e(e.label)}:</b> {_e(e.text)}"), entry))

    story.append(Spacer(1, 6 * mm))
    sig_rows = [[Paragraph(f"<b>{_e(x)}</b>", small) for x in
                 (LABELS["signer"], LABELS["signed_at"], LABELS["key"])]]
    for s in p.signatures:
        sig_rows.append([Paragraph(_e(f"{role_name(s.role)}\n{s.name}"), small),
                         Paragraph(_e(s.signed_at), small),
                         Paragraph(_e(f"{s.algorithm}\n{s.fingerprint}"), small)])
    if not p.signatures:
        sig_rows.append([Paragraph(_e(LABELS["unsigned"]), small), "", ""])
    sig_table = Table(sig_rows, colWidths=[50 * mm, 40 * mm, 80 * mm], hAlign="LEFT",
                      style=TableStyle([("FONT", (0, 0), (-1, -1), FONT, 7.5),
                                        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                                        ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(KeepTogether([Paragraph(_e(LABELS["signatures"]), h2), sig_table, Spacer(1, 3 * mm),
                               *(Paragraph(_e(line), small) for line in p.version_lines)]))

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.drawString(20 * mm, 10 * mm, f"{p.case_number} · v{p.version_number} · "
                          f"SHA-256 {p.version_sha256[:16]}…")
        canvas.drawRightString(A4[0] - 20 * mm, 10 * mm, f"{doc.page}")
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
                            topMargin=18 * mm, bottomMargin=18 * mm, initialFontName=FONT,
                            title=f"Протокол {p.case_number}", author=p.court,
                            subject=f"stenogram version {p.version_number} {p.version_sha256}")
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
