"""Store at scale, on SQLite and PostgreSQL side by side: a project of synthetic rows (no image
files, 1,000,000 images by default), then timings.

Prints one table, a column pair per backend: time to open the project, p50/p95 of every filter
query (first page of 200, and a keyset page deep in), p50/p95 of a single durable label write
(SQLite: synchronous=NORMAL, the default, which survives a process kill, and FULL, which survives
power loss; PostgreSQL: synchronous_commit on), then N writer processes labelling images of their
own for 30 s: writes/s in total, per-write p50/p95, errors a user saw, and writes missing from the
audit log. Targets (issue 15): PostgreSQL at 1 M: filter p95 < 30 ms, write p95 < 10 ms, >= 500
writes/s with 8 writers; SQLite at 10 M: open < 0.5 s, filter p95 < 20 ms, FULL write p95 < 3 ms.

The synthetic project: 10 classes (one common "good" at about 70 %, nine defect classes), 2 %
unlabeled, splits 80/10/10, one model with predictions for every image (90 % agree with the label),
20,000 review scores, one import event per labelled image plus 20,000 manual events by 5 users.

    python bench/store_scale.py --with-postgresql          # SQLite file + a throw-away local server
    python bench/store_scale.py --n 10000000 --writers 8    # SQLite at 10 M
    python bench/store_scale.py --db postgresql://me@db.local/bench   # a server you run
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.store import open_project  # noqa: E402
from core.store.location import parse_location  # noqa: E402
from core.store.labels import set_label  # noqa: E402
from core.store.queries import ImageFilter, count_images, image_records, query_images  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

CLASSES = ["good"] + [f"defect_{k}" for k in range(1, 10)]
USERS = ["ann", "bob", "cho", "dan", "eve"]
CHUNK = 50_000


def _path(i: int) -> str:
    # Lots interleave, so name order is unrelated to id order and to labels.
    return f"lot{i % 997:03d}/img_{i:07d}.png"


class SqliteSink:
    """Bulk rows into an SQLite project file (bench data only: synchronous=OFF while building)."""

    def __init__(self, db: Path):
        import sqlite3

        self.conn = sqlite3.connect(db, isolation_level=None)
        self.conn.execute("PRAGMA synchronous=OFF")  # building bench data only: durability is not the point here
        self.conn.execute("PRAGMA cache_size=-262144")
        self.conn.execute("BEGIN")

    def rows(self, table: str, columns: str, rows: list[tuple]) -> None:
        marks = ", ".join("?" for _ in columns.split(","))
        self.conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)

    def finish(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.execute("ANALYZE")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()


class PostgresSink:
    """Bulk rows into a PostgreSQL project with COPY (about 10x executemany), one transaction."""

    def __init__(self, location):
        import psycopg

        u = location.url
        self.conn = psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password,
                                    dbname=u.database)
        self.conn.execute("SET synchronous_commit = off")

    def rows(self, table: str, columns: str, rows: list[tuple]) -> None:
        with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)

    def finish(self) -> None:
        for table in ("dataset", "class", "image", "label_group", "label_event", "model"):  # tables with a serial id
            self.conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT coalesce(max(id), 1) FROM {table}))")
        self.conn.commit()
        self.conn.autocommit = True
        self.conn.execute("VACUUM ANALYZE")
        self.conn.close()


def build(where: str, n: int, seed: int = 0) -> None:
    """The synthetic project at `where` (a file, or an empty or missing PostgreSQL database)."""
    location = parse_location(where)
    if location.kind == "sqlite":
        db = location.path
        if db.exists():
            db.unlink()
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    else:
        _drop_tables(location)
    open_project(where).close()  # schema from the migrations, exactly as users get it
    sink = SqliteSink(location.path) if location.kind == "sqlite" else PostgresSink(location)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    now = datetime(2026, 11, 1)
    sink.rows("dataset", "id, root, format, created", [(1, "/data/line", "imagefolder", now)])
    sink.rows("class", 'id, name, "index"', [(k + 1, name, k) for k, name in enumerate(CLASSES)])
    p = np.array([0.70] + [0.30 / 9] * 9)
    labels = rng.choice(len(CLASSES), size=n, p=p) + 1  # class ids
    labels = np.where(rng.random(n) < 0.02, 0, labels)  # 0 = unlabeled (2 %)
    splits = rng.choice(["train", "val", "test"], size=n, p=[0.8, 0.1, 0.1])
    for start in range(0, n, CHUNK):
        idx = range(start, min(n, start + CHUNK))
        sink.rows("image", "id, dataset_id, rel_path, content_hash, size_bytes, width, height, channels, split, "
                  "readable, missing, class_id, added",
                  [(i + 1, 1, _path(i), f"{i:064x}", 50000, 256, 256, 3, str(splits[i]), True, False,
                    int(labels[i]) or None, now) for i in idx])
        sink.rows("label", "image_id, class_id, version, source, updated_by, updated_at",
                  [(i + 1, int(labels[i]) or None, int(labels[i] > 0), "import" if labels[i] else None,
                    "importer" if labels[i] else None, now if labels[i] else None) for i in idx])
    sink.rows("label_group", 'id, "user", source, created, size', [(1, "importer", "import", now, int((labels > 0).sum()))])
    for start in range(0, n, CHUNK):
        sink.rows("label_event", 'image_id, group_id, old_class_id, new_class_id, "user", time, source',
                  [(i + 1, 1, None, int(labels[i]), "importer", now, "import")
                   for i in range(start, min(n, start + CHUNK)) if labels[i]])
    # 20,000 manual corrections spread over three weeks by five users (the log only: the current
    # labels above stand for the state after them).
    manual = rng.choice(n, size=20_000, replace=False)
    times = [now + timedelta(minutes=int(g) * 1.5) for g in range(len(manual))]
    sink.rows("label_group", 'id, "user", source, created, size',
              [(g + 2, USERS[g % len(USERS)], "manual", times[g], 1) for g in range(len(manual))])
    sink.rows("label_event", 'image_id, group_id, old_class_id, new_class_id, "user", time, source',
              [(int(i) + 1, g + 2, 1, int(labels[i]) or None, USERS[g % len(USERS)], times[g], "manual")
               for g, i in enumerate(manual)])
    sink.rows("model", "id, name, path, arch, class_names, created, meta, snapshot_id",
              [(1, "bench", "/models/bench.safetensors", "aan_s", str(CLASSES).replace("'", '"'), now, "{}", None)])
    for start in range(0, n, CHUNK):
        m = min(n, start + CHUNK) - start
        lab = labels[start:start + m]
        top = np.where((rng.random(m) < 0.9) & (lab > 0), lab - 1, rng.integers(0, len(CLASSES), m))
        logits = rng.normal(0, 1, (m, len(CLASSES))).astype(np.float32)
        logits[np.arange(m), top] += rng.uniform(0, 5, m).astype(np.float32)
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        srt = np.sort(probs, 1)
        ent = -(probs * np.log(probs)).sum(1)
        sink.rows("prediction", "model_id, image_id, top_index, class_id, rel_path, label_class_id, confidence, "
                  "margin, entropy, probs",
                  [(1, start + k + 1, int(probs[k].argmax()), int(probs[k].argmax()) + 1, _path(start + k),
                    int(lab[k]) or None, float(srt[k, -1]),
                    float(srt[k, -1] - srt[k, -2]), float(ent[k]), probs[k].astype("<f4").tobytes()) for k in range(m)])
    scored = rng.choice(n, size=20_000, replace=False)
    sink.rows("review_score", "model_id, image_id, score, reason",
              [(1, int(i) + 1, float(s), "label_issue") for i, s in zip(scored, rng.random(len(scored)))])
    sink.finish()
    print(f"built {n:,} images in {time.perf_counter() - t0:.0f} s at {location.display}", file=sys.stderr)


def _drop_tables(location) -> None:
    """Empty a bench database on the server (every table of the public schema)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(location.url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except Exception:  # noqa: BLE001 - a database that does not exist yet: open_project creates it
        pass
    finally:
        engine.dispose()


def timed(fn, repeats: int, clock=time.perf_counter) -> tuple[float, float]:
    times = []
    for k in range(repeats):
        t = clock()
        fn(k)
        times.append((clock() - t) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]


WRITER = r"""
import json, random, sys, time
from core.errors import InspectorError
from core.store import open_project
from usecases.labelling import label_one
db, worker, workers, n, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
classes = %r
project = open_project(db, create=False)
rng = random.Random(worker)
times, changed, errors = [], 0, []
end = time.monotonic() + seconds
while time.monotonic() < end:
    image_id = rng.randrange(worker + 1, n + 1, workers)  # this worker's images only: no conflicts by design
    t = time.perf_counter()
    try:
        state = label_one(project, image_id, rng.choice(classes), user=f"writer{worker}")
        changed += state.event is not None
    except InspectorError as e:  # what a user would see
        errors.append(str(e))
    times.append(time.perf_counter() - t)
project.close()
print(json.dumps({"writes": len(times), "changed": changed, "errors": errors[:3], "n_errors": len(errors),
                  "times": times}))
""" % (CLASSES,)


def concurrent_writers(where: str, n: int, workers: int, seconds: float) -> dict:
    """`workers` processes label random images of their own for `seconds`, through the GUI's write
    path (usecases.labelling.label_one: one durable transaction each, retried if it failed without
    writing). Checks that every write that reported a change is in the audit log."""
    from sqlalchemy import text

    def events() -> int:
        with open_project(where, create=False) as p, p.session() as s:
            return s.execute(text("SELECT count(*) FROM label_event WHERE \"user\" LIKE 'writer%'")).scalar()

    before = events()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, where, str(w), str(workers), str(n), str(seconds)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
             for w in range(workers)]
    outs = [p.communicate(timeout=seconds + 300) for p in procs]
    failed = [err[-500:] for p, (_, err) in zip(procs, outs) if p.returncode != 0]
    if failed:
        raise SystemExit(f"a writer process failed: {failed[0]}")
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    times = sorted(t * 1000 for r in results for t in r["times"])
    changed = sum(r["changed"] for r in results)
    return {"writes": len(times), "per_s": len(times) / seconds, "p50": statistics.median(times),
            "p95": times[int(round(0.95 * (len(times) - 1)))], "errors": sum(r["n_errors"] for r in results),
            "first_error": next((e for r in results for e in r["errors"]), ""), "lost": changed - (events() - before)}


def measure(where: str, n: int, repeats: int, workers: int, writer_seconds: float) -> list[tuple]:
    """(operation, p50 ms, p95 ms, target) rows for one project."""
    location = parse_location(where)
    server = location.kind != "sqlite"
    # A fresh process, imports included: what a user waits for.
    probe = ("import time; t = time.perf_counter(); from core.store import open_project; "
             "p = open_project(__import__('sys').argv[1]); p.close(); print(time.perf_counter() - t)")
    fresh = [float(subprocess.run([sys.executable, "-c", probe, where], capture_output=True, text=True,
                                  check=True).stdout) * 1000 for _ in range(3)]
    t = time.perf_counter()
    project = open_project(where)
    open_s = time.perf_counter() - t
    rows = [("open project, fresh process (imports incl.)", statistics.median(fresh), max(fresh), "< 500"),
            ("open project, in process", open_s * 1000, open_s * 1000, "< 500")]
    filter_target = "< 30" if server else "< 20"
    since = datetime(2026, 11, 1) + timedelta(days=20)
    rare = CLASSES[1:]
    queries = {
        "all, by name": lambda k: (ImageFilter(), "name"),
        "label = rare class, by name": lambda k: (ImageFilter(labels=[rare[k % 9]]), "name"),
        "label = good, by name": lambda k: (ImageFilter(labels=["good"]), "name"),
        "labels in (2 rare), by name": lambda k: (ImageFilter(labels=[rare[k % 9], rare[(k + 1) % 9]]), "name"),
        "split = val, by name": lambda k: (ImageFilter(splits=["val"]), "name"),
        "unlabeled, by name": lambda k: (ImageFilter(unlabeled=True), "name"),
        "label + split, by name": lambda k: (ImageFilter(labels=[rare[k % 9]], splits=["test"]), "name"),
        "predicted = rare, by confidence": lambda k: (ImageFilter(model_id=1, predicted=[rare[k % 9]]), "-confidence"),
        "predicted = rare, by name": lambda k: (ImageFilter(model_id=1, predicted=[rare[k % 9]]), "name"),
        "confidence 0.3-0.5, by confidence":
            lambda k: (ImageFilter(model_id=1, min_confidence=0.3, max_confidence=0.5), "confidence"),
        "predicted + confidence < 0.5":
            lambda k: (ImageFilter(model_id=1, predicted=[rare[k % 9]], max_confidence=0.5), "confidence"),
        "disagreement, by name": lambda k: (ImageFilter(model_id=1, disagree=True), "name"),
        "disagreement, by confidence": lambda k: (ImageFilter(model_id=1, disagree=True), "-confidence"),
        "suspected, by score": lambda k: (ImageFilter(model_id=1, suspected=True), "-score"),
        "suspected + label, by score": lambda k: (ImageFilter(model_id=1, suspected=True, labels=["good"]), "-score"),
        "changed by user, by name": lambda k: (ImageFilter(changed_by=USERS[k % 5]), "name"),
        "changed since, by name": lambda k: (ImageFilter(changed_since=since), "name"),
    }
    for name, make in queries.items():
        def run(k, make=make):
            flt, sort = make(k)
            with project.session() as s:
                recs = query_images(s, flt, sort=sort, limit=200)
            assert recs, name
        run(0)  # the first run of each query reads its index pages from disk: timed below
        p50, p95 = timed(run, repeats)
        rows.append((name, p50, p95, filter_target))

    depth = min(100_000, n // 4)  # deep into the "good" images (about 70 % of all)

    with project.session() as s:
        marks = [query_images(s, ImageFilter(labels=["good"]), sort="name", offset=depth + k * 200, limit=1)[0]
                 for k in range(max(5, repeats // 3))]

    def keyset(k):
        with project.session() as s:
            assert query_images(s, ImageFilter(labels=["good"]), sort="name", after=marks[k], limit=200)
    rows.append((f"label = good, keyset page after {depth // 1000}k", *timed(keyset, len(marks)), filter_target))

    counts = {
        "count all": lambda k: ImageFilter(),
        "count label = rare class": lambda k: ImageFilter(labels=[rare[k % 9]]),
        "count disagreement": lambda k: ImageFilter(model_id=1, disagree=True),
    }
    for name, make in counts.items():
        def count(k, make=make):
            with project.session() as s:
                count_images(s, make(k))
        rows.append((name, *timed(count, max(5, repeats // 3)), "(info)"))

    # Real changes only: pick images and, for each, a class other than its current one (read
    # before timing), so no write is a no-op whatever earlier runs left in the file.
    rng = random.Random(time.time_ns())
    n_writes = 2 * max(200, repeats) + 10
    with project.session() as s:
        targets = []
        for rec in image_records(s, rng.sample(range(1, n + 1), 2 * n_writes)):
            targets.append((rec.id, rng.choice([c for c in CLASSES if c != rec.label])))
    modes = ("server",) if server else ("NORMAL", "FULL")
    for mode in modes:
        project.close()
        project = open_project(where) if server else open_project(where, synchronous=mode)
        todo = iter(targets[:n_writes] if mode != "FULL" else targets[n_writes:])

        def write(k):
            image_id, label = next(todo)
            with project.session() as s:
                assert set_label(s, image_id, label, user="bench").group_id is not None
        timed(write, 10)  # warm the page cache for the write path
        what = {"NORMAL": "SQLite NORMAL: survives a kill", "FULL": "SQLite FULL / server: on disk",
                "server": "SQLite FULL / server: on disk"}[mode]
        target = "< 3" if mode == "FULL" else "< 10" if server else "(info)"
        half = (n_writes - 10) // 2
        rows.append((f"durable label write ({what})", *timed(write, half), target))
        rows.append(("  same, CPU time of this process", *timed(write, half, time.process_time), "(info)"))
    project.close()
    if workers:
        w = concurrent_writers(where, n, workers, writer_seconds)
        rows.append((f"{workers} writer processes, {writer_seconds:.0f} s: per write", w["p50"], w["p95"],
                     "< 10" if server else "(info)"))
        rows.append(("  writes/s in total", w["per_s"], w["per_s"], ">= 500"))
        rows.append(("  errors a user saw / writes lost", w["errors"], w["lost"], "0 / 0"))
        if w["first_error"]:
            print(f"first writer error at {location.display}: {w['first_error']}", file=sys.stderr)
    return rows


def throwaway_server() -> tuple[str, str]:
    """(URL of a new database, cluster folder) on a durable throw-away cluster (scripts/pg)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="inspector-pg-bench-")
    out = subprocess.run(["bash", str(REPO / "scripts" / "pg" / "start_cluster.sh"), folder, str(port)],
                         capture_output=True, text=True, check=True, env=dict(os.environ, DURABLE="1"))
    os.environ["PGPASSFILE"] = os.path.join(folder, "pgpass")
    return out.stdout.strip().splitlines()[-1].rsplit("/", 1)[0] + "/store_scale", folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="number of synthetic images")
    ap.add_argument("--db", action="append", default=[],
                    help="project file or postgresql:// URL to build (or reuse) and measure; repeatable "
                         "(default: a file in the temp folder)")
    ap.add_argument("--with-postgresql", action="store_true",
                    help="also on a throw-away local PostgreSQL cluster (durable settings), stopped at the end")
    ap.add_argument("--rebuild", action="store_true", help="rebuild even if the project has the right size")
    ap.add_argument("--repeats", type=int, default=30, help="timed runs per query")
    ap.add_argument("--writers", type=int, default=8, help="concurrent writer processes (0: skip)")
    ap.add_argument("--writer-seconds", type=float, default=30.0)
    args = ap.parse_args()

    places = list(args.db) or [str(Path(tempfile.gettempdir()) / "inspector_store_scale.db")]
    cluster = None
    if args.with_postgresql:
        url, cluster = throwaway_server()
        places.append(url)
    try:
        table = {}
        for where in places:
            if args.rebuild or _count(where) != args.n:
                build(where, args.n)
            table[where] = measure(where, args.n, args.repeats, args.writers, args.writer_seconds)
    finally:
        if cluster:
            subprocess.run(["bash", str(REPO / "scripts" / "pg" / "stop_cluster.sh"), cluster], capture_output=True)
    names = {w: ("PostgreSQL" if parse_location(w).kind != "sqlite" else "SQLite") for w in places}
    print(f"\nstore_scale: {args.n:,} images, first page of 200, {args.repeats} runs each; load "
          f"{os.getloadavg()[0]:.1f} at the end\n")
    head = "".join(f" {names[w] + ' p50':>16} {names[w] + ' p95':>16}" for w in places)
    print(f"{'operation':<46}{head}  target")
    ops = list(dict.fromkeys(r[0] for w in places for r in table[w]))
    for op in ops:
        cells, target = "", ""
        for w in places:
            row = next((r for r in table[w] if r[0] == op), None)
            cells += f" {row[1]:16.2f} {row[2]:16.2f}" if row else f" {'-':>16} {'-':>16}"
            target = target or (row[3] if row else "")
        print(f"{op:<46}{cells}  {target}")
    return 0


def _count(where: str) -> int:
    try:
        from sqlalchemy import text

        location = parse_location(where)
        if location.kind == "sqlite" and not location.path.exists():
            return -1
        with open_project(where, create=False) as p, p.session() as s:
            return s.execute(text("SELECT COUNT(*) FROM image")).scalar()
    except Exception:  # noqa: BLE001 - anything unreadable is rebuilt
        return -1


if __name__ == "__main__":
    sys.exit(main())
