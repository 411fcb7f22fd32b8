"""Invite links and their QR codes. The token appears only in the link, shown once at creation;
the database keeps its hash."""

from __future__ import annotations

import base64
import io

import segno


def invite_link(base_url: str, token: str) -> str:
    """``base_url`` is always Config.base_url: public_url when set, else the address served
    (which the command line, another process, knows only from the configuration)."""
    # The token travels in the fragment, so it never reaches access logs or Referer headers;
    # the join page reads it from location.hash.
    return f"{base_url}/join#{token}"


def qr_png(link: str, scale: int = 6) -> bytes:
    buf = io.BytesIO()
    segno.make(link, error="m").save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def qr_svg(link: str, scale: int = 6) -> str:
    buf = io.BytesIO()
    segno.make(link, error="m").save(buf, kind="svg", scale=scale, border=4, xmldecl=False,
                                     title="Invitation to a court hearing")
    return buf.getvalue().decode()


def qr_payload(link: str) -> dict:
    """Both QR forms for the JSON answer: PNG as a data URL, SVG as markup."""
    png = base64.b64encode(qr_png(link)).decode()
    return {"qr_png": f"data:image/png;base64,{png}", "qr_svg": qr_svg(link)}
