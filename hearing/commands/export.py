"""`courtroom export HEARING --bundle OUT.zip [--media]` and `--format pdf --out FILE`:
the verification bundle and court documents from the command line."""

from __future__ import annotations

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
    from hearing.api.stenogram_routes import FORMATS, write_hearing_bundle
    from hearing.state import AppState
    from hearing import stenograms
    from stenogram.export import protocol_from_version, render_documents
    if not args.bundle and not args.format:
        return fail("say --bundle OUT.zip and/or --format FMT")
    cfg = config_from(args)
    db = open_db(cfg)
    state = AppState(config=cfg, db=db)
    try:
        if args.bundle:
            try:
                manifest = write_hearing_bundle(state, args.hearing, Path(args.bundle), args.media)
            except DomainError as exc:
                return fail(exc.message)
            print(f"bundle {args.bundle}: {len(manifest['files'])} files")
        if args.format:
            vs, sigs = db.run_sync(lambda s: (stenograms.versions(s, args.hearing),
                                              stenograms.signatures(s, args.hearing)))
            if not vs:
                return fail("no stenogram version yet")
            name, _ = FORMATS[args.format]
            data = render_documents(protocol_from_version(vs[-1], sigs),
                                    pdf=args.format == "pdf")[name]
            if args.out:
                Path(args.out).write_bytes(data)
                print(f"{args.format}: {args.out}")
            elif args.format in ("pdf", "docx"):
                return fail("give --out FILE for binary formats")
            else:
                print(data.decode())
    finally:
        db.close()
    return 0
