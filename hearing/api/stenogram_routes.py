"""Signing keys, stenogram versions and their signatures, court documents and the offline
verification bundle."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from aiohttp import web

from hearing.api.context import Call
from hearing.api.registry import endpoint, schema
from hearing.api.schemas import INT, OPT_STR, STR, paged, record
from hearing.paging import PAGE_QUERY, PageRequest
from hearing.services import pdf_signing, stenograms

PASSPHRASE = schema("Passphrase", {
    "type": "object", "additionalProperties": False, "required": ["passphrase"],
    "properties": {"passphrase": {"type": "string", "minLength": 10, "maxLength": 1000}}})
SIGNING_KEY = record("SigningKey", {"key_id": STR, "algorithm": OPT_STR, "fingerprint": STR,
                                    "fingerprint_display": STR, "created_at": STR})
SIGNATURE = record("VersionSignature", {"role": {"enum": ["secretary", "judge"]},
                                        "name": OPT_STR, "signed_at": STR, "key_id": STR,
                                        "kind": {"enum": ["key", "cms"]},
                                        "subject": OPT_STR})
VERSION = record("StenogramVersion", {
    "number": INT, "sha256": STR, "created_at": OPT_STR, "previous_sha256": OPT_STR,
    "segments": INT, "uncertain_segments": INT, "doubtful_words": INT,
    "status": {"enum": ["draft", "awaiting_judge", "signed"]},
    "signatures": {"type": "array", "items": SIGNATURE}})
VERSIONS = schema("StenogramVersions", paged(VERSION, "versions"))
VERSIONS_QUERY = {"status": {"enum": ["draft", "awaiting_judge", "signed"],
                             "description": "only versions at this stage of signing"},
                  **PAGE_QUERY}
FILE = {"type": "string", "format": "binary"}
CMS_REQUEST = record("CmsSigningRequest", {
    "role": {"enum": ["secretary", "judge"]}, "statement": {"type": "object"}, "signed_at": STR,
    "data": STR, "sha256": STR, "version_sha256": STR, "expires_at": STR, "link": STR,
    "qr_png": STR})
CMS_REQUEST_QUERY = {"signed_at": {"type": "string", "maxLength": 40,
                                   "description": "a request presented before (its link)"}}
B64 = {"type": "string", "minLength": 1, "maxLength": 256 * 1024, "pattern": "^[A-Za-z0-9+/=]+$"}
CMS_SIGNATURE = schema("CmsSignature", {
    "type": "object", "additionalProperties": False,
    "required": ["role", "signed_at", "cms", "crls"],
    "properties": {"role": {"enum": ["secretary", "judge"]},
                   "signed_at": {"type": "string", "maxLength": 40},
                   "cms": {**B64, "description": "detached CMS (PKCS #7) signature, DER"},
                   "crls": {"type": "array", "maxItems": 8, "items": B64,
                            "description": "CRLs of the chain, DER"},
                   "ocsp": {"type": "array", "maxItems": 8, "items": B64,
                            "description": "OCSP responses about the chain's certificates, "
                                           "DER (instead of their CRLs)"}}})


@endpoint("GET", "/api/me/signing-key", summary="Your signing key (public part)",
          tag="stenogram", response=SIGNING_KEY, responses={404: "no key yet"})
async def get_key(call: Call) -> dict:
    return await stenograms.my_key(call.state, call.me)


@endpoint("POST", "/api/me/signing-key", summary="Create your signing key (judge, secretary); "
          "the private key is stored encrypted under your passphrase", tag="stenogram",
          body=PASSPHRASE, response=SIGNING_KEY, status=201,
          responses={201: "created", 409: "you already have a key"})
async def create_key(call: Call, body: dict) -> dict:
    return await stenograms.create_key(call.state, call.me, body["passphrase"])


@endpoint("GET", "/api/hearings/{hearing_id}/stenogram/versions",
          summary="Stenogram versions and who signed them, oldest first, paged",
          tag="stenogram", response=VERSIONS, query=VERSIONS_QUERY)
async def list_versions(call: Call, hearing_id: int, query: dict) -> dict:
    f = {k: query[k] for k in ("status",) if k in query}
    return await stenograms.list_versions(call.state, call.me, hearing_id, f,
                                          PageRequest.from_query(query))


@endpoint("POST", "/api/hearings/{hearing_id}/stenogram/versions",
          summary="Freeze the current transcript as the next version to sign", tag="stenogram",
          response=VERSION, status=201,
          responses={201: "created", 409: "nothing changed since the latest version"})
async def create_version(call: Call, hearing_id: int) -> dict:
    return await stenograms.create_version(call.state, call.me, hearing_id)


@endpoint("POST", "/api/hearings/{hearing_id}/stenogram/versions/{number}/sign",
          summary="Sign a version with your key: the secretary first, then the judge",
          tag="stenogram", body=PASSPHRASE, response=VERSION,
          responses={409: "out of order, already signed, or superseded",
                     422: "wrong passphrase or no key"})
async def sign(call: Call, hearing_id: int, number: int, body: dict) -> dict:
    return await stenograms.sign(call.state, call.me, hearing_id, number, body["passphrase"])


@endpoint("GET", "/api/hearings/{hearing_id}/stenogram/versions/{number}/cms",
          summary="What to sign with your certificate: the statement, its bytes and SHA-256, "
                  "a short-lived link and its QR code", tag="stenogram", response=CMS_REQUEST,
          query=CMS_REQUEST_QUERY,
          responses={409: "out of order, already signed, or superseded",
                     422: "not set up, or the request expired"})
async def cms_request(call: Call, hearing_id: int, number: int, query: dict) -> dict:
    return await stenograms.cms_request(call.state, call.me, hearing_id, number,
                                        query.get("signed_at"))


@endpoint("POST", "/api/hearings/{hearing_id}/stenogram/versions/{number}/cms",
          summary="Sign a version with a detached CMS signature by your certificate",
          tag="stenogram", body=CMS_SIGNATURE, response=VERSION,
          responses={403: "not your role, or a certificate not bound to your account",
                     409: "out of order, already signed, or superseded",
                     422: "bad signature, wrong hash, unknown root, revoked, expired, no "
                          "revocation data, or the request expired"})
async def sign_cms(call: Call, hearing_id: int, number: int, body: dict) -> dict:
    return await stenograms.sign_cms(call.state, call.me, hearing_id, number, body["role"],
                                     body["signed_at"], body["cms"], body["crls"],
                                     body.get("ocsp", []))


PDF_REQUEST = record("PdfSigningRequest", {
    "role": {"enum": ["secretary", "judge"]}, "version_sha256": STR, "prepared_sha256": STR,
    "data": STR, "digest": STR, "sha256": STR,
    "byte_range": {"type": "array", "items": INT, "minItems": 4, "maxItems": 4},
    "expires_at": STR})
PDF_SIGNATURE = schema("PdfSignature", {
    "type": "object", "additionalProperties": False,
    "required": ["prepared_sha256", "cms", "crls"],
    "properties": {"prepared_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                   "cms": {**B64, "description": "detached CMS (PKCS #7), DER, over the "
                                                 "presented data (its SHA-256 is the digest)"},
                   "crls": CMS_SIGNATURE["properties"]["crls"],
                   "ocsp": CMS_SIGNATURE["properties"]["ocsp"]}})
SIGNED_PDF = record("SignedProtocolPdf", {"sha256": STR, "size": INT,
                                          "signatures": {"type": "array", "items": STR}})


@endpoint("POST", "/api/hearings/{hearing_id}/stenogram/versions/{number}/pdf-prepare",
          summary="Sign the protocol PDF with your certificate, step one: the PDF is prepared "
                  "with your empty signature field; sign the bytes presented (or their digest)",
          tag="stenogram", response=PDF_REQUEST, status=201,
          responses={201: "prepared",
                     409: "the version is not signed by both yet, you signed the PDF already, "
                          "or superseded",
                     422: "not set up (certificates, the seal), or you did not sign the "
                          "version with a certificate"})
async def pdf_request(call: Call, hearing_id: int, number: int) -> dict:
    return await pdf_signing.pdf_request(call.state, call.me, hearing_id, number)


@endpoint("POST", "/api/hearings/{hearing_id}/stenogram/versions/{number}/pdf-signature",
          summary="Sign the protocol PDF with your certificate, step two: a detached CMS over "
                  "the presented bytes; the signed PDF becomes the version's protocol",
          tag="stenogram", body=PDF_SIGNATURE, response=SIGNED_PDF,
          responses={403: "a certificate not bound to your account",
                     404: "no such prepared PDF of yours",
                     409: "signed meanwhile, or the PDF changed: ask again",
                     422: "bad signature, unknown root, revoked, expired, no revocation data, "
                          "or the request expired"})
async def sign_pdf(call: Call, hearing_id: int, number: int, body: dict) -> dict:
    return await pdf_signing.sign_pdf(call.state, call.me, hearing_id, number,
                                      body["prepared_sha256"], body["cms"], body["crls"],
                                      body.get("ocsp", []))


@endpoint("GET", "/api/hearings/{hearing_id}/export/{fmt}",
          summary="The hearing protocol (pdf, docx, txt) or stenogram (srt, vtt, json). The "
                  "court's staff get the current text; party accounts of the case the latest "
                  "signed version; a participant's invite the signed protocol",
          auth="any", tag="stenogram", response=FILE, content_type="application/octet-stream",
          responses={403: "not yours to read, or not signed yet", 404: "unknown format"})
async def export(call: Call, hearing_id: int, fmt: str) -> web.Response:
    doc = await stenograms.document(call.state, call.me, hearing_id, fmt)
    return web.Response(body=doc.data, headers={
        "Content-Type": doc.content_type,
        "Content-Disposition": f'attachment; filename="{doc.filename}"'})


@endpoint("GET", "/api/hearings/{hearing_id}/bundle",
          summary="Everything needed to verify the stenogram offline, as a zip "
                  "(?media=1 adds recordings and evidence)", tag="stenogram",
          response=FILE, content_type="application/zip", responses={409: "no version yet"})
async def bundle(call: Call, hearing_id: int) -> web.StreamResponse:
    state = call.state
    with_media = call.request.query.get("media") in ("1", "true", "yes")
    tmp = Path(tempfile.mkdtemp(dir=state.config.data_dir)) / f"hearing-{hearing_id}.zip"
    loop = asyncio.get_running_loop()
    try:
        await stenograms.export_bundle(state, call.me, hearing_id, tmp, with_media)
        resp = web.StreamResponse(headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="hearing-{hearing_id}-bundle.zip"'})
        resp.content_length = tmp.stat().st_size
        await resp.prepare(call.request)
        with open(tmp, "rb") as f:
            while block := await loop.run_in_executor(None, f.read, 1 << 20):
                await resp.write(block)
        await resp.write_eof()
        return resp
    finally:
        tmp.unlink(missing_ok=True)
        tmp.parent.rmdir()
