"""`courtroom search reindex`: rebuild the search documents (signed stenogram segments,
evidence transcripts, case records) from the record, e.g. after a restore or a change of
stemming."""

from __future__ import annotations

from hearing.commands.common import config_from, run_service
from hearing.services import search


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("search", help="the full-text search index")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = actions.add_parser("reindex", help="rebuild every search document from the record")
    r.set_defaults(func=reindex)


def reindex(args) -> int:  # noqa: ANN001
    done = run_service(config_from(args), search.reindex)
    print(f"search index rebuilt: {done.segments} stenogram segments, {done.evidence} "
          f"evidence transcript segments, {done.cases} cases")
    return 0
