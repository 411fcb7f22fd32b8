"""The database in a backup: a consistent dump taken while the server writes, the checks that
the dump opens, what it references, and the restore.

SQLite: the online backup API copies one snapshot of the WAL database in a single step (the
server's writer is never blocked) into a self-contained file (journal mode DELETE).
PostgreSQL: ``pg_dump --format=custom`` of the schema the configured connection uses (its
``current_schema()``: where the server's tables live), which is one snapshot by design, and
``pg_restore`` into an empty database. The client tools are found on PATH; pg_dump must be at
least the server's major version, or it refuses to dump."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from stenogram.files import publish

SQLITE_NAME = "courtroom.sqlite3"
PG_NAME = "courtroom.pgdump"


class ToolError(Exception):
    """The dump or restore cannot run; the message says what to do about it."""


@dataclass
class Refs:
    """What a dump says must exist: blobs (sha256 -> what names it) and recording chunk files
    (path as the server wrote it, sha256)."""
    blobs: dict[str, str] = field(default_factory=dict)
    chunks: list[tuple[str, str]] = field(default_factory=list)


def kind_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def sqlite_path(url: str) -> Path:
    return Path(url.split("///", 1)[-1])


# -- dump --------------------------------------------------------------------------------------

def check_source(url: str) -> tuple[str, str, str]:
    """Can the database be dumped? For PostgreSQL (pg_dump, schema, server version): the
    server answers, pg_dump is there and not older than the server."""
    if kind_of(url) == "sqlite":
        if not sqlite_path(url).is_file():
            raise ToolError(f"no SQLite database at {sqlite_path(url)}")
        return "", "", ""
    major, version, schema = _server(url)
    tool = _tool("pg_dump", major)
    if schema is None:
        raise ToolError("the database connection has no current schema (search_path names "
                        "no existing schema): nothing to dump")
    return tool, schema, version


def dump(url: str, out_dir: Path) -> dict:
    """Dump the database into ``out_dir``; returns the manifest's facts about it (kind, file
    name and, for PostgreSQL, schema and server version)."""
    tool, schema, version = check_source(url)
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if kind_of(url) == "sqlite":
        _dump_sqlite(sqlite_path(url), out_dir / SQLITE_NAME)
        return {"kind": "sqlite", "file": SQLITE_NAME}
    tmp = out_dir / (PG_NAME + ".tmp")
    conninfo, env = _libpq(url)
    _run([tool, "--format=custom", "--no-owner", "--no-privileges",
          f"--schema={_pattern(schema)}", f"--file={tmp}", conninfo], env, "pg_dump")
    os.chmod(tmp, 0o600)
    publish(tmp, out_dir / PG_NAME)
    return {"kind": "postgresql", "file": PG_NAME, "schema": schema, "server_version": version}


def _dump_sqlite(src: Path, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.unlink(missing_ok=True)
    source = sqlite3.connect(str(src), timeout=30)
    target = sqlite3.connect(str(tmp))
    try:
        source.backup(target)  # pages=-1: one step, so one snapshot; WAL lets writers go on
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
    finally:
        target.close()
        source.close()
    os.chmod(tmp, 0o600)
    publish(tmp, dest)


# -- checks without restoring -----------------------------------------------------------------

def inspect(kind: str, file: Path) -> tuple[list[str], Refs]:
    """Problems with the dump (it does not open, or is damaged) and what it references."""
    if kind == "sqlite":
        return _inspect_sqlite(file)
    return _inspect_postgres(file)


def _inspect_sqlite(file: Path) -> tuple[list[str], Refs]:
    refs = Refs()
    with tempfile.TemporaryDirectory(prefix="courtroom-verify-") as tmp:
        copy = Path(tmp) / SQLITE_NAME  # opening may write (-journal): never the backup itself
        shutil.copyfile(file, copy)
        try:
            con = sqlite3.connect(str(copy))
            try:
                result = [r[0] for r in con.execute("PRAGMA integrity_check")]
                if result != ["ok"]:
                    return [f"database {file}: integrity_check: {'; '.join(result[:5])}"], refs
                for eid, sha, play, thumb in con.execute(
                        "SELECT id, sha256, playback_sha256, thumbnail_sha256 FROM evidence_items"):
                    _evidence(refs, eid, sha, play, thumb)
                for rid, sha in con.execute("SELECT id, sha256 FROM recordings"):
                    refs.blobs.setdefault(sha, f"recording {rid}")
                refs.chunks = [(p, s) for p, s in con.execute(
                    "SELECT path, sha256 FROM recording_chunks ORDER BY id")]
            finally:
                con.close()
        except sqlite3.DatabaseError as exc:
            return [f"database {file} does not open: {exc}"], refs
    return [], refs


def _evidence(refs: Refs, eid: object, sha: str, play: str | None, thumb: str | None) -> None:
    refs.blobs.setdefault(sha, f"evidence {eid} (original)")
    if play:
        refs.blobs.setdefault(play, f"evidence {eid} (playback copy)")
    if thumb:
        refs.blobs.setdefault(thumb, f"evidence {eid} (thumbnail)")


def _inspect_postgres(file: Path) -> tuple[list[str], Refs]:
    refs = Refs()
    try:
        tool = _tool("pg_restore", None)
    except ToolError as exc:
        return [f"database {file} cannot be checked: {exc}"], refs
    listing = subprocess.run([tool, "--list", str(file)], capture_output=True, text=True)
    if listing.returncode != 0:
        return [f"database {file} does not open: {_last_line(listing.stderr)}"], refs
    data = subprocess.run([tool, "--data-only", "--table=evidence_items", "--table=recordings",
                           "--table=recording_chunks", "--file=-", str(file)],
                          capture_output=True, text=True)
    if data.returncode != 0:
        return [f"database {file}: its data cannot be read: {_last_line(data.stderr)}"], refs
    tables = _copy_rows(data.stdout)
    for row in tables.get("evidence_items", []):
        _evidence(refs, row["id"], row["sha256"], row.get("playback_sha256"),
                  row.get("thumbnail_sha256"))
    for row in tables.get("recordings", []):
        refs.blobs.setdefault(row["sha256"], f"recording {row['id']}")
    refs.chunks = [(_unescape(r["path"]), r["sha256"])
                   for r in sorted(tables.get("recording_chunks", []), key=lambda r: int(r["id"]))]
    return [], refs


_COPY = re.compile(r'^COPY (?:\S+\.)?"?([A-Za-z_0-9]+)"? \((.*)\) FROM stdin;$')


def _copy_rows(sql: str) -> dict[str, list[dict]]:
    """The rows of pg_restore's plain COPY blocks, as column -> text value (None for NULL)."""
    tables: dict[str, list[dict]] = {}
    table, cols = None, []
    for line in sql.splitlines():
        if table is None:
            m = _COPY.match(line)
            if m:
                table, cols = m.group(1), [c.strip().strip('"') for c in m.group(2).split(",")]
                tables[table] = []
        elif line == "\\.":
            table = None
        else:
            tables[table].append({c: None if v == "\\N" else v
                                  for c, v in zip(cols, line.split("\t"))})
    return tables


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n", "r": "\r"}.get(m.group(1),
                                                                          m.group(1)), value)


# -- restore -----------------------------------------------------------------------------------

def check_target(kind: str, url: str) -> None:
    """Refuse a restore that would mix with an existing database, before anything is copied."""
    if kind != kind_of(url):
        raise ToolError(f"the backup holds a {kind} database but the configured database is "
                        f"{kind_of(url)}: configure a {kind} database_url")
    if kind == "sqlite":
        path = sqlite_path(url)
        if path.exists() and path.stat().st_size:
            raise ToolError(f"the SQLite database {path} already exists")
        return
    _tool("pg_restore", None)
    tables = _scalar(url, "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN "
                          "('pg_catalog', 'information_schema')")
    if tables:
        raise ToolError(f"the PostgreSQL database {_safe(url)} is not empty ({tables} tables): "
                        "restore into a freshly created database")


def restore_postgres(file: Path, schema: str, url: str) -> None:
    """pg_restore into the configured (empty) database. A schema the target already has (a new
    database's ``public``) is not created again."""
    tool = _tool("pg_restore", None)
    exists = _scalar(url, "SELECT count(*) FROM pg_namespace WHERE nspname = :s", s=schema)
    listing = _run([tool, "--list", str(file)], None, "pg_restore --list")
    entry = re.compile(r"^\d+; \d+ \d+ (?:SCHEMA - |COMMENT - SCHEMA )(\S+) ")
    keep = [ln for ln in listing.splitlines()
            if not (exists and (m := entry.match(ln)) and m.group(1) == schema)]
    conninfo, env = _libpq(url)
    with tempfile.NamedTemporaryFile("w", prefix="courtroom-restore-", suffix=".list") as lst:
        lst.write("\n".join(keep) + "\n")
        lst.flush()
        _run([tool, "--exit-on-error", "--no-owner", "--no-privileges", f"--use-list={lst.name}",
              f"--dbname={conninfo}", str(file)], env, "pg_restore")
    if _scalar(url, "SELECT to_regclass('alembic_version') IS NOT NULL") is not True:
        raise ToolError(f"restored into schema {schema!r}, which the configured connection "
                        f"does not search: put it on database_url's search_path "
                        f"(options=-csearch_path={schema})")


def move_chunk_paths(url: str, data_dir: Path) -> int:
    """Recording chunks are listed with the path the old server wrote; point them at the same
    file under the restored data directory. Returns how many rows changed."""
    engine = create_engine(url)
    moved = 0
    try:
        with engine.begin() as c:
            for cid, path in c.execute(text("SELECT id, path FROM recording_chunks")).all():
                parts = Path(path).parts
                if "recordings" not in parts:
                    continue
                new = str(Path(data_dir, *parts[parts.index("recordings"):]))
                if new != path:
                    c.execute(text("UPDATE recording_chunks SET path = :p WHERE id = :i"),
                              {"p": new, "i": cid})
                    moved += 1
    finally:
        engine.dispose()
    return moved


# -- PostgreSQL plumbing -----------------------------------------------------------------------

def _libpq(url: str) -> tuple[str, dict]:
    """A libpq connection URI for the client tools; the password travels in PGPASSWORD, never
    on a command line."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return u.set(drivername="postgresql", password=None).render_as_string(
        hide_password=False), env


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _pattern(schema: str) -> str:
    return '"' + schema.replace('"', '""') + '"'


def _scalar(url: str, sql: str, **params: object) -> object:
    engine = create_engine(url, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as c:
            return c.execute(text(sql), params).scalar()
    except Exception as exc:  # noqa: BLE001 - unreachable server, bad URL: say so plainly
        raise ToolError(f"cannot reach the database {_safe(url)}: "
                        f"{str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()


def _server(url: str) -> tuple[int, str, str | None]:
    engine = create_engine(url, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as c:
            num, version, schema = c.execute(text(
                "SELECT current_setting('server_version_num')::int, "
                "current_setting('server_version'), current_schema()")).one()
    except Exception as exc:  # noqa: BLE001
        raise ToolError(f"cannot reach the database {_safe(url)}: "
                        f"{str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()
    return num // 10000, version.split()[0], schema


def _tool(name: str, server_major: int | None) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolError(f"{name} not found on PATH: install the PostgreSQL client tools"
                        + (f" (version {server_major} or newer)" if server_major else ""))
    if server_major is not None:
        out = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
        m = re.search(r"\)\s*(\d+)", out)
        major = int(m.group(1)) if m else 0
        if major < server_major:
            raise ToolError(f"{path} is version {major}, older than the server "
                            f"({server_major}): {name} must be at least the server's major "
                            "version")
    return path


def _run(cmd: list[str], env: dict | None, what: str) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise ToolError(f"{what} failed: {_last_line(out.stderr) or out.returncode}")
    return out.stdout


def _last_line(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    return "; ".join(lines[-2:]) if lines else ""
