"""Plain-text renderings: TXT (the protocol as text), SRT and WebVTT (captions keyed to the
hearing clock, so they line up with the recording), JSON (the version and its signatures,
exactly as signed)."""

from __future__ import annotations

import json
import re

from .protocol import LABELS, Protocol, clock, role_name


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def render_txt(p: Protocol) -> str:
    out = [LABELS["title"], ""]
    out += [f"{LABELS['court']}: {p.court}", f"{LABELS['case']}: {p.case_number}",
            f"{LABELS['subject']}: {p.title}", f"{LABELS['date']}: {p.date}",
            f"{LABELS['opened']}: {p.opened_at}", "", LABELS["composition"] + ":"]
    out += [f"  {role_name(r)}: {n}" for r, n in p.composition]
    out += ["", LABELS["participants"] + ":"]
    out += [f"  {role_name(r)}: {n}" for r, n in p.participants]
    out += ["", LABELS["record"] + ":", ""]
    out += [f"[{clock(e.start_ms)}] {e.text}" if e.kind == "gap" else
            f"{e.label} {_one_line(e.text)}" if e.kind == "note" else
            f"[{clock(e.start_ms)}] {e.label}: {_one_line(e.text)}" for e in p.entries]
    out += ["", LABELS["signatures"] + ":"]
    if not p.signatures:
        out.append("  " + LABELS["unsigned"])
    for s in p.signatures:
        out.append(f"  {role_name(s.role)}: {s.name}, {s.signed_at}, {s.algorithm} "
                   f"{s.fingerprint}")
    out += ["", *p.version_lines, ""]
    return "\n".join(out)


def _speech(p: Protocol) -> list:
    """Captions carry what was said; the gaps are in the protocol and the recording list."""
    return [e for e in p.entries if e.kind == "speech"]


def render_srt(p: Protocol) -> str:
    cues = []
    for i, e in enumerate(_speech(p), 1):
        end = max(e.end_ms, e.start_ms + 1)
        cues.append(f"{i}\n{clock(e.start_ms, millis=True, sep=',')} --> "
                    f"{clock(end, millis=True, sep=',')}\n{e.name}: {_one_line(e.text)}\n")
    return "\n".join(cues)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_vtt(p: Protocol) -> str:
    out = ["WEBVTT", ""]
    for i, e in enumerate(_speech(p), 1):
        end = max(e.end_ms, e.start_ms + 1)
        voice = _vtt_escape(e.name).replace("\n", " ")
        out += [f"{i}", f"{clock(e.start_ms, millis=True)} --> {clock(end, millis=True)}",
                f"<v {voice}>{_vtt_escape(_one_line(e.text))}</v>", ""]
    return "\n".join(out)


def render_json(p: Protocol) -> str:
    """The version document with its SHA-256 and signatures, readable (indented, UTF-8). The
    hashes are over canonical JSON, so this indentation does not change them."""
    return json.dumps({"sha256": p.version_sha256, "document": p.document,
                       "signatures": p.signature_records,
                       "roles": {r: role_name(r) for r in {e.role for e in p.entries} if r}},
                      ensure_ascii=False, indent=1)
