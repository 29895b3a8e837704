"""Import throughput on a big ImageFolder tree: scan (walk + hash + full decode) and store, files/s.

The tree (made once, kept in --tree): `--n` unique 64x64 grayscale PNGs (about 1.6 KB each) in
train/test x 5 class folders, so per-file costs (listing, open, stat, hash, decode, one row) dominate
rather than pixel decoding. Each run imports the whole tree into a fresh project file.

Compare two source trees (e.g. before/after a change) on a noisy machine: runs alternate between
them, in fresh processes, and the table shows the median and the spread of each:

    python bench/import_scale.py [--n 50000] [--tree DIR] [--repeats 5] [--src OLD_CHECKOUT --src NEW_CHECKOUT]

Without --src the checkout this file belongs to is measured. A source tree is a folder holding
core/ (e.g. `git archive COMMIT core | tar -x -C DIR`).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
CLASSES = ("good", "scratch", "crack", "spot", "contamination")
SPLITS = ("train", "test")


def make_tree(root: Path, n: int) -> Path:
    import numpy as np
    from PIL import Image

    marker = root / f".complete-{n}"
    if marker.exists():
        return root
    rng = np.random.default_rng(0)
    base = rng.integers(80, 140, (64, 64), dtype=np.uint8)
    for i in range(n):
        split, label = SPLITS[i % 2], CLASSES[(i // 2) % len(CLASSES)]
        folder = root / split / label
        folder.mkdir(parents=True, exist_ok=True)
        a = base.copy()
        a.flat[i % a.size] = 255
        a[0, :4] = np.frombuffer(i.to_bytes(4, "little"), dtype=np.uint8)  # unique bytes, unique hash
        Image.fromarray(a).save(folder / f"{i:06d}.png", compress_level=1)
    marker.touch()
    return root


def worker(tree: Path, db: Path) -> dict:
    """One import in this process; the source tree comes from PYTHONPATH."""
    import core
    from core.data.scan import scan_dataset
    from core.store import open_project
    from core.store.ingest import import_scan

    t0 = time.perf_counter()
    scan = scan_dataset(tree, "imagefolder")
    t1 = time.perf_counter()
    with open_project(db) as project, project.session(write=True) as s:
        report = import_scan(s, scan, user="bench")
    t2 = time.perf_counter()
    return {"src": str(Path(core.__file__).parents[1]), "files": len(scan.images), "new": report.new,
            "scan_s": t1 - t0, "store_s": t2 - t1, "total_s": t2 - t0}


def run_once(src: Path, tree: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        env = dict(os.environ, PYTHONPATH=str(src))
        out = subprocess.run([sys.executable, __file__, "--worker", "--tree", str(tree), "--db", str(Path(tmp) / "p.db")],
                             env=env, capture_output=True, text=True, cwd=tmp)
        if out.returncode != 0:
            raise SystemExit(f"worker failed for {src}:\n{out.stderr}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
    if Path(result["src"]).resolve() != src.resolve():
        raise SystemExit(f"worker imported core from {result['src']}, not {src}")
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=50_000)
    p.add_argument("--tree", type=Path, default=Path(tempfile.gettempdir()) / "inspector-import-bench")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--src", type=Path, action="append", help="source tree holding core/ (repeatable)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.tree, args.db)))
        return
    tree = args.tree / str(args.n)
    t0 = time.perf_counter()
    make_tree(tree, args.n)
    print(f"tree: {tree} ({args.n} files, made/checked in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    sources = args.src or [HERE]
    runs: dict[Path, list[dict]] = {s: [] for s in sources}
    run_once(sources[0], tree)  # warm the page cache; not counted
    for r in range(args.repeats):
        for src in (sources if r % 2 == 0 else list(reversed(sources))):
            res = run_once(src, tree)
            assert res["files"] == args.n == res["new"], res
            runs[src].append(res)
            print(f"  run {r + 1} {src}: {res['files'] / res['total_s']:.0f} files/s", file=sys.stderr)
    print(f"\nimport of {args.n} files, {args.repeats} runs each (alternating), median [min..max]")
    print(f"{'source':<40} {'scan s':>16} {'store s':>14} {'files/s':>22}")
    for src, rs in runs.items():
        def col(key: str) -> str:
            v = [x[key] for x in rs]
            return f"{statistics.median(v):6.2f} [{min(v):.2f}..{max(v):.2f}]"
        rates = [x["files"] / x["total_s"] for x in rs]
        print(f"{str(src)[-40:]:<40} {col('scan_s'):>16} {col('store_s'):>14} "
              f"{statistics.median(rates):8.0f} [{min(rates):.0f}..{max(rates):.0f}]")


if __name__ == "__main__":
    main()
