"""`courtroom export HEARING --bundle OUT.zip [--media]` and `--format pdf --out FILE`:
the verification bundle and court documents from the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hearing.commands.common import config_from, fail, open_db


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("export", help="export a hearing's stenogram bundle or documents")
    p.add_argument("hearing", type=int)
    p.add_argument("--bundle", metavar="OUT.zip", help="write the offline-verifiable bundle")
    p.add_argument("--media", action="store_true",
                   help="include recordings and accepted evidence in the bundle")
    p.add_argument("--format", choices=["pdf", "docx", "txt", "srt", "vtt", "json"],
                   help="write one document of the latest version")
    p.add_argument("--out", metavar="FILE", help="where to write --format (default: stdout "
                   "for text formats)")
    p.set_defaults(func=run)


def run(args) -> int:  # noqa: ANN001
    from hearing.errors import DomainError
    if not args.bundle and not args.format:
        return fail("say --bundle OUT.zip and/or --format FMT")
    if args.format in ("pdf", "docx") and not args.out:
        return fail("give --out FILE for binary formats")
    cfg = config_from(args)
    db = open_db(cfg)
    try:
        return asyncio.run(_export(args, cfg, db))
    except DomainError as exc:
        return fail(exc.message)
    finally:
        db.close()


async def _export(args, cfg, db) -> int:  # noqa: ANN001
    from hearing.services import stenograms
    from hearing.state import AppState
    state = AppState(config=cfg, db=db)
    if args.bundle:
        manifest = await stenograms.export_bundle(state, None, args.hearing, Path(args.bundle),
                                                  args.media)
        print(f"bundle {args.bundle}: {len(manifest['files'])} files")
    if args.format:
        doc = await stenograms.stored_document(state, args.hearing, args.format)
        if args.out:
            Path(args.out).write_bytes(doc.data)
            print(f"{args.format}: {args.out}")
        else:
            print(doc.data.decode())
    return 0
