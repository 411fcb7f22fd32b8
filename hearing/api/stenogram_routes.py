"""Signing keys, stenogram versions and their signatures, court documents and the offline
verification bundle."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from hearing import stenograms
from hearing.errors import Unprocessable, conflict, forbidden, not_found
from hearing.api.hearing_routes import load_hearing, load_managed, path_int
from hearing.api.registry import endpoint, json_body, schema
from hearing.models import SigningKey, StenogramSignature, StenogramVersionRow, User
from hearing.api.context import CALLER
from hearing.access import is_assigned, require_staff_role
from hearing.roles import Caller
from hearing.api.context import STATE
from stenogram import (SigningError, StenogramVersion, WorkflowError, create_user_key,
                       load_user_key, needs_new_version, sign_version, signature_status)
from stenogram.export import protocol_from_version, render_documents
from stenogram.signing import display_fingerprint, fingerprint, unb64

PASSPHRASE = schema("Passphrase", {
    "type": "object", "additionalProperties": False, "required": ["passphrase"],
    "properties": {"passphrase": {"type": "string", "minLength": 10, "maxLength": 1000}}})
FORMATS = {"pdf": ("protocol.pdf", "application/pdf"),
           "docx": ("protocol.docx",
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
           "txt": ("protocol.txt", "text/plain; charset=utf-8"),
           "srt": ("stenogram.srt", "application/x-subrip; charset=utf-8"),
           "vtt": ("stenogram.vtt", "text/vtt; charset=utf-8"),
           "json": ("stenogram.json", "application/json")}


def key_json(k: SigningKey) -> dict:
    pub = k.public_key_info
    fp = fingerprint(unb64(pub["public_key"])) if "public_key" in pub else k.key_id
    return {"key_id": k.key_id, "algorithm": pub.get("algorithm"), "fingerprint": fp,
            "fingerprint_display": display_fingerprint(fp), "created_at": k.created_at.isoformat()}


def version_json(v: StenogramVersion, sigs: list[dict]) -> dict:
    mine = [x for x in sigs if x["statement"]["version_sha256"] == v.sha256]
    return {"number": v.number, "sha256": v.sha256, "created_at": v.document.get("created_at"),
            "previous_sha256": v.document.get("previous_sha256"),
            "segments": len(v.document.get("segments", [])),
            "status": signature_status(v, mine),
            "signatures": [{"role": x["statement"]["role"],
                            "name": x["statement"]["signer"].get("name"),
                            "signed_at": x["statement"]["signed_at"], "key_id": x["key_id"]}
                           for x in mine]}


@endpoint("GET", "/api/me/signing-key", summary="Your signing key (public part)",
          tag="stenogram", responses={404: "no key yet"})
async def get_key(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    k = await request.app[STATE].db.run(lambda s: s.execute(select(SigningKey).where(
        SigningKey.user_id == c.user_id)).scalar_one_or_none())
    if k is None:
        raise not_found("you have no signing key yet")
    return web.json_response(key_json(k))


@endpoint("POST", "/api/me/signing-key", summary="Create your signing key (judge, secretary); "
          "the private key is stored encrypted under your passphrase", tag="stenogram",
          body=PASSPHRASE, responses={201: "created", 409: "you already have a key"})
async def create_key(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    require_staff_role(c, "judge", "secretary")
    data = await json_body(request)
    state = request.app[STATE]
    path = stenograms.user_key_path(state.config, c.user_id)
    exists = await state.db.run(lambda s: s.execute(select(SigningKey.id).where(
        SigningKey.user_id == c.user_id)).first())
    if exists or path.exists():
        raise conflict("you already have a signing key")
    loop = asyncio.get_running_loop()
    # scrypt key derivation is deliberately slow: off the event loop
    signer = await loop.run_in_executor(None, lambda: create_user_key(
        path, data["passphrase"], owner=f"{c.name} ({c.role})"))

    def work(s):
        k = SigningKey(user_id=c.user_id, key_id=signer.key_id,
                       public_key_info=signer.public_key_info(), path=str(path),
                       created_at=datetime.now(timezone.utc))
        s.add(k)
        state.audit(s, None, c.actor, "signing_key.create", {"key_id": signer.key_id})
        s.flush()
        return key_json(k)
    return web.json_response(await state.db.run(work), status=201)


@endpoint("GET", "/api/hearings/{hearing_id}/stenogram/versions",
          summary="Stenogram versions and who signed them", tag="stenogram")
async def list_versions(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")

    def work(s):
        load_managed(s, hid, c)
        sigs = stenograms.signatures(s, hid)
        return [version_json(v, sigs) for v in stenograms.versions(s, hid)]
    return web.json_response({"versions": await request.app[STATE].db.run(work)})


@endpoint("POST", "/api/hearings/{hearing_id}/stenogram/versions",
          summary="Freeze the current transcript as the next version to sign", tag="stenogram",
          responses={201: "created", 409: "nothing changed since the latest version"})
async def create_version(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")
    state = request.app[STATE]
    transcript = await state.transcripts.get(hid)

    def work(s):
        h = load_hearing(s, hid, c)
        if not is_assigned(c, h):
            raise forbidden("only the secretary or the judge of this hearing make versions")
        existing = stenograms.versions(s, hid)
        if existing and not needs_new_version(existing[-1], transcript.head()):
            raise conflict("the transcript has not changed since version "
                           f"{existing[-1].number}", number=existing[-1].number)
        v = stenograms.new_version(s, state.config, h, transcript)
        s.add(StenogramVersionRow(hearing_id=hid, number=v.number, sha256=v.sha256,
                                  doc=v.document, created_at=datetime.now(timezone.utc),
                                  created_by=c.user_id))
        state.audit(s, h, c.actor, "stenogram.version", {"number": v.number, "sha256": v.sha256})
        return version_json(v, [])
    return web.json_response(await state.db.run(work), status=201)


@endpoint("POST", "/api/hearings/{hearing_id}/stenogram/versions/{number}/sign",
          summary="Sign a version with your key: the secretary first, then the judge",
          tag="stenogram", body=PASSPHRASE,
          responses={409: "out of order, already signed, or superseded",
                     422: "wrong passphrase or no key"})
async def sign(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid, number = path_int(request, "hearing_id"), path_int(request, "number")
    data = await json_body(request)
    state = request.app[STATE]

    def load(s):
        h = load_hearing(s, hid, c)
        role = ("judge" if c.user_id == h.judge_id else
                "secretary" if c.user_id == h.secretary_id else None)
        if role is None:
            raise forbidden("only the judge and the secretary of this hearing sign")
        vs = {v.number: v for v in stenograms.versions(s, hid)}
        if number not in vs:
            raise not_found("no such version")
        if number != max(vs):
            raise conflict(f"version {number} was superseded by version {max(vs)}")
        k = s.execute(select(SigningKey).where(SigningKey.user_id == c.user_id)
                      ).scalar_one_or_none()
        if k is None:
            raise Unprocessable("create your signing key first", code="no_key")
        user = s.get(User, c.user_id)
        return role, vs[number], k.path, user.display_name, stenograms.signatures(s, hid)
    role, version, key_path, name, sigs = await state.db.run(load)
    loop = asyncio.get_running_loop()
    try:
        signer = await loop.run_in_executor(None, load_user_key, Path(key_path),
                                            data["passphrase"])
    except SigningError:
        raise Unprocessable("the passphrase does not open your key", code="bad_passphrase") from None
    try:
        record = sign_version(version, signer, role=role, user_id=str(c.user_id), name=name,
                              signatures=sigs)
    except WorkflowError as exc:
        raise conflict(str(exc)) from None

    def store(s):
        h = load_hearing(s, hid, c)
        row = s.execute(select(StenogramVersionRow).where(
            StenogramVersionRow.hearing_id == hid, StenogramVersionRow.number == number)).scalar_one()
        s.add(StenogramSignature(version_id=row.id, role=role, user_id=c.user_id, doc=record,
                                 created_at=datetime.now(timezone.utc)))
        state.audit(s, h, c.actor, "stenogram.sign",
                    {"number": number, "sha256": version.sha256, "role": role,
                     "key_id": record["key_id"]})
        s.flush()
        stenograms.sign_tree_head_now(s, state.config, hid)
        return version_json(version, stenograms.signatures(s, hid))
    result = await state.db.run(store)
    state.hub.publish(hid, {"type": "stenogram", "version": result}, staff_only=True)
    return web.json_response(result)


async def _latest_or_draft(state, c: Caller, hid: int):  # noqa: ANN001, ANN202
    """The latest version when it matches the transcript; otherwise an unsigned draft of the
    current transcript (not stored), so an export always shows the current text."""
    transcript = await state.transcripts.get(hid)

    def work(s):
        h = load_managed(s, hid, c)
        vs = stenograms.versions(s, hid)
        sigs = stenograms.signatures(s, hid)
        if vs and not needs_new_version(vs[-1], transcript.head()):
            return vs[-1], sigs
        return stenograms.new_version(s, state.config, h, transcript), []
    return await state.db.run(work)


@endpoint("GET", "/api/hearings/{hearing_id}/export/{fmt}",
          summary="The hearing protocol or record: pdf, docx, txt, srt, vtt or json",
          tag="stenogram", responses={404: "unknown format"})
async def export(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")
    fmt = request.match_info["fmt"]
    if fmt not in FORMATS:
        raise not_found(f"formats: {', '.join(FORMATS)}")
    state = request.app[STATE]
    version, sigs = await _latest_or_draft(state, c, hid)
    name, content_type = FORMATS[fmt]
    loop = asyncio.get_running_loop()
    docs = await loop.run_in_executor(None, lambda: render_documents(
        protocol_from_version(version, sigs), pdf=fmt == "pdf"))
    return web.Response(body=docs[name], headers={
        "Content-Type": content_type,
        "Content-Disposition": f'attachment; filename="hearing-{hid}-v{version.number}-{name}"'})


def write_hearing_bundle(state, hid: int, out: Path, with_media: bool) -> dict:  # noqa: ANN001
    """Blocking: gather everything and write the zip (used by the API and the CLI)."""
    from stenogram import write_bundle

    def gather(s):
        stenograms.sign_tree_head_now(s, state.config, hid)
        vs = stenograms.versions(s, hid)
        media = {}
        if with_media and vs:
            listed = {e["sha256"] for v in vs for e in
                      v.document.get("recordings", []) + v.document.get("evidence", [])}
            media = {k: p for k, p in stenograms.media_files(
                s, hid, state.live.blobs.path_for).items() if k in listed}
        return (vs, stenograms.signatures(s, hid), stenograms.public_keys(s, hid, state.config),
                stenograms.audit_rows(s, hid), stenograms.tree_heads(s, hid), media)
    vs, sigs, keys, rows, heads, media = state.db.run_sync(gather)
    if not vs:
        raise conflict("make a stenogram version first", code="no_version")
    from hearing.models import TranscriptRevision
    revisions = state.db.run_sync(lambda s: [r.doc for r in s.execute(
        select(TranscriptRevision).where(TranscriptRevision.hearing_id == hid)
        .order_by(TranscriptRevision.seq)).scalars()])
    documents = render_documents(protocol_from_version(vs[-1], sigs))
    return write_bundle(out, versions=vs, signatures=sigs, public_keys=keys, revisions=revisions,
                        audit_rows=rows, tree_heads=heads, media=media, documents=documents)


@endpoint("GET", "/api/hearings/{hearing_id}/bundle",
          summary="Everything needed to verify the stenogram offline, as a zip "
                  "(?media=1 adds recordings and evidence)", tag="stenogram",
          responses={409: "no version yet"})
async def bundle(request: web.Request) -> web.StreamResponse:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")
    state = request.app[STATE]
    await state.db.run(lambda s: load_managed(s, hid, c))
    with_media = request.query.get("media") in ("1", "true", "yes")
    tmp = Path(tempfile.mkdtemp(dir=state.config.data_dir)) / f"hearing-{hid}.zip"
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, write_hearing_bundle, state, hid, tmp, with_media)
        resp = web.StreamResponse(headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="hearing-{hid}-bundle.zip"'})
        resp.content_length = tmp.stat().st_size
        await resp.prepare(request)
        with open(tmp, "rb") as f:
            while block := await loop.run_in_executor(None, f.read, 1 << 20):
                await resp.write(block)
        await resp.write_eof()
        return resp
    finally:
        tmp.unlink(missing_ok=True)
        tmp.parent.rmdir()
