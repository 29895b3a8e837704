"""Store at scale: a 1,000,000-image project of synthetic rows (no image files), then timings.

Prints: time to open the project, p50/p95 of every filter query (first page of 200, plus one deep
page), p50/p95 of a single label write committed with synchronous=NORMAL (the default: survives a
process kill) and FULL (fsync per commit: survives power loss). Targets: open < 1 s,
filter p95 < 50 ms, label write p95 < 5 ms.

The synthetic project: 10 classes (one common "good" at about 70 %, nine defect classes), 2 %
unlabeled, splits 80/10/10, one model with predictions for every image (90 % agree with the label),
20,000 review scores, one import event per labelled image plus 20,000 manual events by 5 users.

    python bench/store_scale.py [--n 1000000] [--db FILE] [--rebuild] [--repeats 30]
"""
from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from core.store import open_project
from core.store.labels import set_label
from core.store.queries import ImageFilter, count_images, image_records, query_images

CLASSES = ["good"] + [f"defect_{k}" for k in range(1, 10)]
USERS = ["ann", "bob", "cho", "dan", "eve"]
CHUNK = 50_000


def _path(i: int) -> str:
    # Lots interleave, so name order is unrelated to id order and to labels.
    return f"lot{i % 997:03d}/img_{i:07d}.png"


def build(db: Path, n: int, seed: int = 0) -> None:
    if db.exists():
        db.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    open_project(db).close()  # schema from the migrations, exactly as users get it
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    import sqlite3
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")  # building bench data only: durability is not the point here
    conn.execute("PRAGMA cache_size=-262144")
    conn.execute("BEGIN")
    conn.execute("INSERT INTO dataset (id, root, format, created) VALUES (1, '/data/line', 'imagefolder', '2026-01-01')")
    conn.executemany('INSERT INTO class (id, name, "index") VALUES (?, ?, ?)',
                     [(k + 1, name, k) for k, name in enumerate(CLASSES)])
    p = np.array([0.70] + [0.30 / 9] * 9)
    labels = rng.choice(len(CLASSES), size=n, p=p) + 1  # class ids
    labels = np.where(rng.random(n) < 0.02, 0, labels)  # 0 = unlabeled (2 %)
    splits = rng.choice(["train", "val", "test"], size=n, p=[0.8, 0.1, 0.1])
    now = datetime(2026, 11, 1)
    for start in range(0, n, CHUNK):
        idx = range(start, min(n, start + CHUNK))
        conn.executemany(
            "INSERT INTO image (id, dataset_id, rel_path, content_hash, size_bytes, width, height, channels, split,"
            " readable, missing, class_id, added) VALUES (?, 1, ?, ?, 50000, 256, 256, 3, ?, 1, 0, ?, ?)",
            [(i + 1, _path(i), f"{i:064x}", str(splits[i]),
              int(labels[i]) or None, now) for i in idx])
        conn.executemany(
            "INSERT INTO label (image_id, class_id, version, source, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            [(i + 1, int(labels[i]) or None, int(labels[i] > 0), "import" if labels[i] else None,
              "importer" if labels[i] else None, now if labels[i] else None) for i in idx])
    conn.execute("INSERT INTO label_group (id, user, source, created, size) VALUES (1, 'importer', 'import', ?, ?)",
                 (now, int((labels > 0).sum())))
    for start in range(0, n, CHUNK):
        conn.executemany(
            "INSERT INTO label_event (image_id, group_id, old_class_id, new_class_id, user, time, source)"
            " VALUES (?, 1, NULL, ?, 'importer', ?, 'import')",
            [(i + 1, int(labels[i]), now) for i in range(start, min(n, start + CHUNK)) if labels[i]])
    # 20,000 manual corrections spread over three weeks by five users (the log only: the current
    # labels above stand for the state after them).
    manual = rng.choice(n, size=20_000, replace=False)
    for g, i in enumerate(manual):
        t = now + timedelta(minutes=int(g) * 1.5)
        user = USERS[g % len(USERS)]
        conn.execute("INSERT INTO label_group (user, source, created, size) VALUES (?, 'manual', ?, 1)", (user, t))
        conn.execute("INSERT INTO label_event (image_id, group_id, old_class_id, new_class_id, user, time, source)"
                     " VALUES (?, last_insert_rowid(), 1, ?, ?, ?, 'manual')", (int(i) + 1, int(labels[i]) or None, user, t))
    conn.execute("INSERT INTO model (id, name, path, arch, class_names, created, meta, snapshot_id)"
                 " VALUES (1, 'bench', '/models/bench.safetensors', 'aan_s', ?, ?, '{}', NULL)",
                 (str(CLASSES).replace("'", '"'), now))
    for start in range(0, n, CHUNK):
        m = min(n, start + CHUNK) - start
        lab = labels[start:start + m]
        top = np.where((rng.random(m) < 0.9) & (lab > 0), lab - 1, rng.integers(0, len(CLASSES), m))
        logits = rng.normal(0, 1, (m, len(CLASSES))).astype(np.float32)
        logits[np.arange(m), top] += rng.uniform(0, 5, m).astype(np.float32)
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        srt = np.sort(probs, 1)
        ent = -(probs * np.log(probs)).sum(1)
        conn.executemany(
            "INSERT INTO prediction (model_id, image_id, top_index, class_id, rel_path, label_class_id, confidence,"
            " margin, entropy, probs) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(start + k + 1, int(probs[k].argmax()), int(probs[k].argmax()) + 1, _path(start + k),
              int(lab[k]) or None, float(srt[k, -1]),
              float(srt[k, -1] - srt[k, -2]), float(ent[k]), probs[k].astype("<f4").tobytes()) for k in range(m)])
    scored = rng.choice(n, size=20_000, replace=False)
    conn.executemany("INSERT INTO review_score (model_id, image_id, score, reason) VALUES (1, ?, ?, 'bench')",
                     [(int(i) + 1, float(s)) for i, s in zip(scored, rng.random(len(scored)))])
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    print(f"built {n:,} images in {time.perf_counter() - t0:.0f} s ({db.stat().st_size / 1e6:.0f} MB)", file=sys.stderr)


def timed(fn, repeats: int, clock=time.perf_counter) -> tuple[float, float]:
    times = []
    for k in range(repeats):
        t = clock()
        fn(k)
        times.append((clock() - t) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="number of synthetic images")
    ap.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "inspector_store_scale.db",
                    help="project file to build or reuse (default: in the temp folder)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild even if the file has the right size")
    ap.add_argument("--repeats", type=int, default=30, help="timed runs per query")
    args = ap.parse_args()

    if args.rebuild or not args.db.exists() or _count(args.db) != args.n:
        build(args.db, args.n)

    # A fresh process, imports included: what a user waits for.
    probe = ("import time; t = time.perf_counter(); from core.store import open_project; "
             "p = open_project(__import__('sys').argv[1]); p.close(); print(time.perf_counter() - t)")
    fresh = [float(subprocess.run([sys.executable, "-c", probe, str(args.db)], capture_output=True, text=True,
                                  check=True).stdout) * 1000 for _ in range(3)]
    t = time.perf_counter()
    project = open_project(args.db)
    open_s = time.perf_counter() - t
    rows = [("open project, fresh process (imports incl.)", statistics.median(fresh), max(fresh), "< 1000"),
            ("open project, in process", open_s * 1000, open_s * 1000, "< 1000")]
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
        p50, p95 = timed(run, args.repeats)
        rows.append((name, p50, p95, "< 50"))

    depth = min(100_000, args.n // 4)  # deep into the "good" images (about 70 % of all)

    def deep(k):
        with project.session() as s:
            query_images(s, ImageFilter(labels=["good"]), sort="name", offset=depth + k * 200, limit=200)
    rows.append((f"label = good, page at offset {depth // 1000}k", *timed(deep, max(5, args.repeats // 3)), "(info)"))

    with project.session() as s:
        marks = [query_images(s, ImageFilter(labels=["good"]), sort="name", offset=depth + k * 200, limit=1)[0]
                 for k in range(max(5, args.repeats // 3))]

    def keyset(k):
        with project.session() as s:
            assert query_images(s, ImageFilter(labels=["good"]), sort="name", after=marks[k], limit=200)
    rows.append((f"label = good, keyset page after {depth // 1000}k", *timed(keyset, len(marks)), "< 50"))

    counts = {
        "count all": lambda k: ImageFilter(),
        "count label = rare class": lambda k: ImageFilter(labels=[rare[k % 9]]),
        "count predicted = rare class": lambda k: ImageFilter(model_id=1, predicted=[rare[k % 9]]),
        "count disagreement": lambda k: ImageFilter(model_id=1, disagree=True),
    }
    for name, make in counts.items():
        def count(k, make=make):
            with project.session() as s:
                count_images(s, make(k))
        rows.append((name, *timed(count, max(5, args.repeats // 3)), "(info)"))

    # Real changes only: pick images and, for each, a class other than its current one (read
    # before timing), so no write is a no-op whatever earlier runs left in the file.
    rng = random.Random(time.time_ns())
    n_writes = 2 * max(200, args.repeats) + 10
    with project.session() as s:
        targets = []
        for rec in image_records(s, rng.sample(range(1, args.n + 1), 2 * n_writes)):
            targets.append((rec.id, rng.choice([c for c in CLASSES if c != rec.label])))
    for mode in ("NORMAL", "FULL"):
        project.close()
        project = open_project(args.db, synchronous=mode)
        todo = iter(targets[:n_writes] if mode == "NORMAL" else targets[n_writes:])

        def write(k):
            image_id, label = next(todo)
            with project.session() as s:
                assert set_label(s, image_id, label, user="bench").group_id is not None
        timed(write, 10)  # warm the page cache for the write path
        what = "default, survives kill" if mode == "NORMAL" else "survives power loss"
        half = (n_writes - 10) // 2
        rows.append((f"label write, {mode} ({what})", *timed(write, half), "< 5"))
        # CPU time of the same writes: on a shared machine the wall clock also counts waiting for a core.
        rows.append((f"  same, CPU time of the process", *timed(write, half, time.process_time), "(info)"))
    project.close()

    print(f"\nstore_scale: {args.n:,} images, first page of 200, {args.repeats} runs each\n")
    print(f"{'operation':<46} {'p50 ms':>9} {'p95 ms':>9}  target ms")
    for name, p50, p95, target in rows:
        print(f"{name:<46} {p50:9.2f} {p95:9.2f}  {target}")
    return 0


def _count(db: Path) -> int:
    import sqlite3
    try:
        conn = sqlite3.connect(db)
        try:
            return conn.execute("SELECT COUNT(*) FROM image").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return -1


if __name__ == "__main__":
    sys.exit(main())
