"""Search latency (p50/p95) over N hearings × 200 signed segments on SQLite (FTS5, bm25) and
PostgreSQL (GIN on the stored to_tsvector('simple', terms), ts_rank), for the court's
administrator (every case), a judge (the cases of one judge in 20) and a lawyer (10 cases).

    python bench/search.py [--hearings 10000] [--segments 200] [--repeat 20] [--json OUT]
    python bench/search.py --hearings 250,1000      # several sizes: how latency scales

Setup writes straight into the tables (users, cases, hearings, parties, search_docs) in a fresh
SQLite file and a fresh PostgreSQL schema; the segment texts are synthetic Russian and Kazakh
court speech (a court vocabulary in many word forms among Zipf-distributed filler words),
stemmed by hearing.search.stems as the server stems them. SQLite fills its FTS5 table through
the same triggers the server uses; PostgreSQL loads by COPY (computing the stored vector) and
then builds the GIN index of migration 0004. The setup time is printed with the latencies. A
query is what GET /api/search runs below HTTP: the access-checked, ranked page of 20 and its
snippets."""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hearing.db import Database, upgrade  # noqa: E402
from hearing.models import Case, CaseParty, Hearing, User  # noqa: E402
from hearing.roles import Caller  # noqa: E402
from hearing.search.query import search, snippet  # noqa: E402
from hearing.search.stems import terms  # noqa: E402

JUDGES = 20
HEARINGS_PER_CASE = 2
LAWYER_CASES = 10
POOL = 40_000  # distinct segment texts; rows draw from them
COURT_WORDS = {
    "ru": ["свидетель свидетеля свидетелю свидетелем свидетеле свидетели свидетелей",
           "договор договора договору договором договоре договоры договоров",
           "показания показаний показаниями показаниях",
           "суд суда суду судом суде", "истец истца истцу истцом", "ответчик ответчика ответчику",
           "заседание заседания заседании", "доказательство доказательства доказательствами",
           "экспертиза экспертизы экспертизе", "ущерб ущерба ущербом", "иск иска иском",
           "решение решения решением", "протокол протокола протоколе"],
    "kk": ["куәгер куәгердің куәгерге куәгерді куәгерлер куәгерлердің куәгермен",
           "сот соттың сотқа сотта соттан", "шарт шарттың шартты шартқа шарттар",
           "дәлел дәлелдер дәлелдерді дәлелдің", "талап талаптың талапты талаптар",
           "жауапкер жауапкердің жауапкерге", "айғақ айғақтар айғақтарды"],
}
QUERIES = {  # what a court's staff would look for: common words, two words, Kazakh, rare
    "common word": "свидетелем",
    "two words": "показания свидетеля",
    "kazakh form": "куәгерлерге",
    "rare name": "Жанболатовым",
    "no match": "фотосинтез",
}
SYLLABLES = "ка ра ма на та ло ро но по ви ли ми ни ти ку ру му ну ту ше же зе се де бе ге".split()


def zipf_words(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(n)]


def text_pool(rng: random.Random) -> list[tuple[str, str, str]]:
    """(language, text, terms) of POOL synthetic segments."""
    filler = zipf_words(rng, 8000)
    weights = [1 / (i + 1) for i in range(len(filler))]
    forms = {lang: [f for group in groups for f in group.split()] for lang, groups in
             COURT_WORDS.items()}
    pool = []
    for i in range(POOL):
        lang = "ru" if i % 10 < 7 else ("kk+ru" if i % 10 < 9 else "kk")
        vocab = forms["kk"] if lang == "kk" else forms["ru"] + (
            forms["kk"] if lang == "kk+ru" else [])
        n = rng.randint(8, 16)
        picks = rng.choices(filler, weights, k=n)
        for j in range(n):
            if rng.random() < 0.15:
                picks[j] = rng.choice(vocab)
        if i % 2000 == 0:
            picks.append(rng.choice(["Жанболатов", "Жанболатова", "Жанболатову"]))
        body = " ".join(picks)
        body = body[0].upper() + body[1:] + "."
        pool.append((lang, body, terms(body, lang)))
    return pool


def setup(url: str, hearings: int, segments: int, pool: list, rng: random.Random) -> dict:
    db = Database(url)
    upgrade(db.engine)
    now = datetime.now(timezone.utc)
    cases = math.ceil(hearings / HEARINGS_PER_CASE)

    def people(s):
        s.execute(insert(User), [
            {"username": "admin", "display_name": "Admin", "role": "admin",
             "password_hash": "x", "created_at": now, "contact": ""},
            {"username": "lawyer", "display_name": "Lawyer", "role": "lawyer",
             "password_hash": "x", "created_at": now, "contact": ""},
            *({"username": f"judge{j}", "display_name": f"Judge {j}", "role": "judge",
               "password_hash": "x", "created_at": now, "contact": ""} for j in range(JUDGES))])
        ids = dict(s.execute(text("SELECT username, id FROM users")).all())
        judges = [ids[f"judge{j}"] for j in range(JUDGES)]
        s.execute(insert(Case), [
            {"id": c + 1, "number": f"2-{c + 1}/2026", "category": "civil",
             "title": f"Дело {c + 1}", "judge_id": judges[c % JUDGES], "status": "open",
             "created_at": now, "created_by": ids["admin"]} for c in range(cases)])
        s.execute(insert(Hearing), [
            {"id": h + 1, "case_id": h // HEARINGS_PER_CASE + 1,
             "case_number": f"2-{h // HEARINGS_PER_CASE + 1}/2026", "title": "Заседание",
             "kind": "civil", "language": pool[h % len(pool)][0], "duration_min": 60,
             "judge_id": judges[(h // HEARINGS_PER_CASE) % JUDGES], "vocabulary": [],
             "state": "closed", "created_at": now, "created_by": ids["admin"]}
            for h in range(hearings)])
        s.execute(insert(CaseParty), [
            {"case_id": c, "role": "defence_lawyer", "display_name": "Lawyer", "contact": "",
             "user_id": ids["lawyer"], "active": True, "added_at": now}
            for c in rng.sample(range(1, cases + 1), min(LAWYER_CASES, cases))])
        return ids, judges
    ids, judges = db.run_sync(people)
    if url.startswith("postgresql"):
        db.engine.dispose()
        load_postgres(url, hearings, segments, pool, rng)
    else:
        db.engine.dispose()
        load_sqlite(url.split("///", 1)[1], hearings, segments, pool, rng)
    db.close()
    return {"admin": Caller("staff", "admin", "Admin", user_id=ids["admin"]),
            "judge": Caller("staff", "judge", "Judge", user_id=judges[0]),
            "lawyer": Caller("party", "lawyer", "Lawyer", user_id=ids["lawyer"])}


def rows(hearings: int, segments: int, pool: list, rng: random.Random):
    for h in range(1, hearings + 1):
        case = (h - 1) // HEARINGS_PER_CASE + 1
        for n in range(segments):
            lang, body, stems = pool[rng.randrange(len(pool))]
            yield (case, h, "segment", f"{h}:{n:08d}", n * 4000, 1, lang, body, stems)


def load_sqlite(path: str, hearings: int, segments: int, pool: list, rng: random.Random) -> None:
    import sqlite3
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    batch: list[tuple] = []
    sql = ("INSERT INTO search_docs (case_id, hearing_id, kind, ref, clock_ms, version, "
           "language, text, terms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
    for row in rows(hearings, segments, pool, rng):
        batch.append(row)
        if len(batch) == 50_000:
            con.executemany(sql, batch)
            con.commit()
            batch.clear()
    con.executemany(sql, batch)
    con.commit()
    con.execute("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
    con.commit()
    con.execute("ANALYZE")
    con.close()


def load_postgres(url: str, hearings: int, segments: int, pool: list,
                  rng: random.Random) -> None:
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("DROP INDEX ix_search_docs_terms_fts")
        buf = io.StringIO()
        cols = "case_id, hearing_id, kind, ref, clock_ms, version, language, text, terms"
        for i, row in enumerate(rows(hearings, segments, pool, rng), 1):
            buf.write("\t".join(str(v) for v in row) + "\n")
            if i % 200_000 == 0:
                buf.seek(0)
                cur.copy_expert(f"COPY search_docs ({cols}) FROM STDIN", buf)
                buf = io.StringIO()
        buf.seek(0)
        cur.copy_expert(f"COPY search_docs ({cols}) FROM STDIN", buf)
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute("CREATE INDEX ix_search_docs_terms_fts ON search_docs "
                    "USING gin (terms_vector)")
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()


def measure(url: str, callers: dict, repeat: int) -> dict:
    db = Database(url)
    out: dict = {}
    every: list[float] = []
    try:
        for who, caller in callers.items():
            for name, q in QUERIES.items():
                lat, hits = [], 0

                def once(s):
                    found = search(s, caller, q, limit=20)
                    for h in found.hits:
                        snippet(h.doc.text, h.doc.language, found.groups)
                    return len(found.hits)
                db.run_sync(once)  # warm
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    hits = db.run_sync(once)
                    lat.append(time.perf_counter() - t0)
                out[f"{who} / {name}"] = {**summary(lat), "hits": hits}
                every.extend(lat)
        out["all"] = summary(every)
    finally:
        db.close()
    return out


def summary(latencies: list[float]) -> dict:
    ms = sorted(x * 1000 for x in latencies)
    return {"p50_ms": round(statistics.median(ms), 2),
            "p95_ms": round(ms[math.ceil(0.95 * len(ms)) - 1], 2)}


def run_one(backend: str, url: str, hearings: int, args, pool: list) -> dict:
    rng = random.Random(7)
    t0 = time.perf_counter()
    callers = setup(url, hearings, args.segments, pool, rng)
    setup_s = time.perf_counter() - t0
    result = {"backend": backend, "hearings": hearings, "rows": hearings * args.segments,
              "setup_s": round(setup_s, 1), "latency": measure(url, callers, args.repeat)}
    print(f"\n{backend}: {hearings} hearings × {args.segments} segments = "
          f"{hearings * args.segments:,} rows, setup {setup_s:.1f} s")
    for k, v in result["latency"].items():
        extra = f"  ({v['hits']} results)" if "hits" in v else ""
        print(f"  {k:32} p50 {v['p50_ms']:8.2f} ms   p95 {v['p95_ms']:8.2f} ms{extra}")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hearings", default="10000",
                    help="hearings, or several sizes separated by commas")
    ap.add_argument("--segments", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=20, help="runs of each query per caller")
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--postgres", default="postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args()
    pool = text_pool(random.Random(1))
    results = []
    for hearings in (int(x) for x in args.hearings.split(",")):
        if args.backend in ("sqlite", "both"):
            with tempfile.TemporaryDirectory() as d:
                results.append(run_one("sqlite", f"sqlite:///{d}/bench.sqlite3", hearings,
                                       args, pool))
        if args.backend in ("postgres", "both"):
            schema = f"bench_{secrets.token_hex(4)}"
            admin = create_engine(args.postgres)
            with admin.begin() as c:
                c.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                results.append(run_one("postgres", f"{args.postgres}?options=-csearch_path%3D"
                                       f"{schema}", hearings, args, pool))
            finally:
                with admin.begin() as c:
                    c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    if len(results) > 2:
        print("\nscaling (p50 / p95 over all queries and callers):")
        for r in results:
            a = r["latency"]["all"]
            print(f"  {r['backend']:9} {r['rows']:>10,} rows  p50 {a['p50_ms']:8.2f} ms  "
                  f"p95 {a['p95_ms']:8.2f} ms  setup {r['setup_s']:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
