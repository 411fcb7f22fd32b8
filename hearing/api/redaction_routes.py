"""Redacted copies of signed stenogram versions: declare the spans and sign the copy, list
the copies, countersign one, and download a copy's own verification bundle."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from aiohttp import web

from hearing.api.context import Call
from hearing.api.registry import endpoint, schema
from hearing.api.schemas import AT, INT, OPT_STR, STR, paged, record
from hearing.paging import PAGE_QUERY, PageRequest
from hearing.services import redactions
from stenogram.redaction import MAX_REASON

ID = {"type": "string", "minLength": 1, "maxLength": 100}
MS = {"type": "integer", "minimum": 0, "maximum": 2**53 - 1}
REASON = {"type": "string", "minLength": 1, "maxLength": MAX_REASON,
          "description": "the legal ground for withholding it"}
SPAN = {"oneOf": [
    {"type": "object", "additionalProperties": False, "required": ["kind", "segment_id", "reason"],
     "properties": {"kind": {"const": "segment"}, "segment_id": ID, "reason": REASON}},
    {"type": "object", "additionalProperties": False,
     "required": ["kind", "segment_id", "start", "end", "reason"],
     "properties": {"kind": {"const": "words"}, "segment_id": ID,
                    "start": {"type": "integer", "minimum": 0, "maximum": 100_000,
                              "description": "first word (0-based)"},
                    "end": {"type": "integer", "minimum": 1, "maximum": 100_000,
                            "description": "one past the last word"},
                    "reason": REASON}},
    {"type": "object", "additionalProperties": False,
     "required": ["kind", "start_ms", "end_ms", "reason"],
     "properties": {"kind": {"const": "time"}, "start_ms": MS, "end_ms": MS,
                    "source_id": {**ID, "description": "only this source (default: all)"},
                    "reason": REASON}},
    {"type": "object", "additionalProperties": False,
     "required": ["kind", "evidence_id", "reason"],
     "properties": {"kind": {"const": "evidence"},
                    "evidence_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                    "reason": REASON}}]}
NEW_REDACTION = schema("NewRedaction", {
    "type": "object", "additionalProperties": False, "required": ["spans", "passphrase"],
    "properties": {"spans": {"type": "array", "minItems": 1, "maxItems": redactions.MAX_SPANS,
                             "items": SPAN},
                   "passphrase": {"type": "string", "minLength": 10, "maxLength": 1000}}})
PASSPHRASE = schema("RedactionPassphrase", {
    "type": "object", "additionalProperties": False, "required": ["passphrase"],
    "properties": {"passphrase": {"type": "string", "minLength": 10, "maxLength": 1000}}})
REDACTION = record("Redaction", {
    "id": INT, "hearing_id": INT, "version": INT, "version_sha256": STR, "sha256": STR,
    "spans": {"type": "array", "items": {"type": "object"}}, "created_at": AT,
    "recordings": {"type": "array", "items": record("RedactedRecording", {
        "original_sha256": STR, "sha256": STR, "source_id": OPT_STR})},
    "signatures": {"type": "array", "items": record("RedactionSignature", {
        "role": {"enum": ["secretary", "judge"]}, "name": OPT_STR, "signed_at": STR,
        "key_id": STR})}})
REDACTIONS = schema("Redactions", paged(REDACTION, "redactions"))
FILE = {"type": "string", "format": "binary"}


@endpoint("POST", "/api/hearings/{hearing_id}/stenogram/versions/{number}/redactions",
          summary="Redact a signed version: the declared spans (words, segments, time ranges, "
                  "evidence) become the mark in a copy whose recordings are silenced over "
                  "them; the copy is signed with your key, and callers below \"sealed\" get it "
                  "instead of the version", tag="stenogram", body=NEW_REDACTION,
          response=REDACTION, status=201,
          responses={400: "a span that does not fit the version",
                     403: "not the hearing's secretary or judge", 404: "no such version",
                     409: "the version is not signed", 422: "no key, or a wrong passphrase"})
async def create(call: Call, hearing_id: int, number: int, body: dict) -> dict:
    return await redactions.create(call.state, call.me, hearing_id, number, body["spans"],
                                   body["passphrase"])


@endpoint("GET", "/api/hearings/{hearing_id}/redactions",
          summary="The hearing's redacted copies, oldest first (paged)", tag="stenogram",
          response=REDACTIONS, query=PAGE_QUERY)
async def list_(call: Call, hearing_id: int, query: dict) -> dict:
    return await redactions.list_redactions(call.state, call.me, hearing_id,
                                            PageRequest.from_query(query))


@endpoint("POST", "/api/hearings/{hearing_id}/redactions/{redaction_id}/sign",
          summary="Countersign a redacted copy (the other of the judge and the secretary)",
          tag="stenogram", body=PASSPHRASE, response=REDACTION,
          responses={403: "not the hearing's secretary or judge",
                     409: "already signed by you", 422: "no key, or a wrong passphrase"})
async def countersign(call: Call, hearing_id: int, redaction_id: int, body: dict) -> dict:
    return await redactions.countersign(call.state, call.me, hearing_id, redaction_id,
                                        body["passphrase"])


@endpoint("GET", "/api/hearings/{hearing_id}/redactions/{redaction_id}/bundle",
          summary="The redacted copy's own bundle, for `courtroom verify` (?media=1 adds the "
                  "silenced recordings)", auth="account", tag="stenogram", response=FILE,
          content_type="application/zip", responses={403: "not yours to read"})
async def bundle(call: Call, hearing_id: int, redaction_id: int) -> web.Response:
    state = call.state
    with_media = call.request.query.get("media") in ("1", "true", "yes")
    folder = Path(tempfile.mkdtemp(dir=state.config.data_dir))
    tmp = folder / "redacted.zip"
    try:
        await redactions.export_bundle(state, call.me, hearing_id, redaction_id, tmp,
                                       with_media)
        data = await asyncio.get_running_loop().run_in_executor(None, tmp.read_bytes)
    finally:
        tmp.unlink(missing_ok=True)
        folder.rmdir()
    return web.Response(body=data, headers={
        "Content-Type": "application/zip",
        "Content-Disposition": f'attachment; filename="hearing-{hearing_id}-redacted-'
                               f'{redaction_id}.zip"'})
