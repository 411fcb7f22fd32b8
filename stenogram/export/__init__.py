"""Court documents from a stenogram version: the hearing protocol as PDF and DOCX, and the
record as TXT, SRT, WebVTT and JSON. Every renderer takes a ``Protocol`` (see protocol.py),
built once from a version, its signatures and the public keys."""

from .protocol import Protocol, protocol_from_version


def render_documents(p: Protocol, *, pdf: bool = True) -> dict[str, bytes]:
    """Every document format, by file name (for a bundle's documents/ folder or a download).
    The PDF raises fonts.FontNotFound (with install advice) if no suitable font exists."""
    from .docx import render_docx
    from .text import render_json, render_srt, render_txt, render_vtt
    out = {"protocol.docx": render_docx(p), "protocol.txt": render_txt(p).encode(),
           "stenogram.srt": render_srt(p).encode(), "stenogram.vtt": render_vtt(p).encode(),
           "stenogram.json": render_json(p).encode()}
    if pdf:
        from .pdf import render_pdf
        out["protocol.pdf"] = render_pdf(p)
    return out


__all__ = ["Protocol", "protocol_from_version", "render_documents"]
