"""`inspector errors --db`: every file the imports could not use, with the reason.

Unreadable files are images of the project flagged unreadable (truncated, empty, not an image, too
many pixels, ...); skipped files were never opened (FIFOs, devices, symlinks out of the dataset
root, folders that could not be listed, ...). `write_report` is also what `inspector import
--report FILE` uses.
"""
from __future__ import annotations

import argparse
import csv
import io
from collections.abc import Iterable

from app.cli.project_option import add_db_option, open_db

REPORT_COLUMNS = ("kind", "path", "reason", "dataset_root")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("errors", help="files the imports could not use (unreadable or skipped), with the reason",
                       description="List every unreadable image (kept in the project, flagged unreadable) and every "
                                   "skipped file (never opened: FIFOs, devices, symlinks leading out of the dataset "
                                   "root, folders that could not be listed) with its reason, one per line.")
    add_db_option(p)
    p.add_argument("--kind", choices=("unreadable", "skipped"), help="only this kind")
    p.add_argument("--dataset", type=int, metavar="ID", help="only this dataset (see inspector roots)")
    p.add_argument("--report", metavar="FILE.csv", help="also write them to a CSV file (kind, path, reason, dataset_root)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=errors_cmd)


def errors_cmd(args: argparse.Namespace) -> int:
    import json

    from core.data.file_checks import printable
    from core.store.file_problems import SKIPPED, UNREADABLE, file_problems

    kinds = (args.kind,) if args.kind else (UNREADABLE, SKIPPED)
    with open_db(args) as project, project.session() as s:
        problems = file_problems(s, dataset_id=args.dataset, kinds=kinds)
    if args.report:
        write_report(args.report, ((p.kind, p.rel_path, p.reason, p.root) for p in problems))
    if args.json:
        print(json.dumps([{"kind": p.kind, "path": p.rel_path, "reason": p.reason, "dataset_id": p.dataset_id,
                           "dataset_root": p.root} for p in problems], indent=2, ensure_ascii=False))
        return 0
    if not problems:
        print("no unreadable or skipped files")
        return 0
    roots = sorted({p.root for p in problems})
    n_unreadable = sum(p.kind == UNREADABLE for p in problems)
    print(f"{n_unreadable} unreadable (imported, flagged unreadable), {len(problems) - n_unreadable} skipped "
          f"(not imported)" + (f" in {printable(roots[0])}" if len(roots) == 1 else f" in {len(roots)} datasets"))
    for p in problems:
        where = "" if len(roots) == 1 else f"[{printable(p.root)}] "
        print(f"  {p.kind:<10}  {where}{p.line()}")
    return 0


def write_report(path: str, rows: Iterable[tuple[str, str, str, str]]) -> int:
    """CSV of (kind, path, reason, dataset_root), written atomically; returns the number of rows."""
    from core.atomic import write_text_atomic
    from core.data.file_checks import printable

    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(REPORT_COLUMNS)
    n = 0
    for kind, rel, reason, root in rows:
        w.writerow([kind, printable(rel), reason, root])
        n += 1
    write_text_atomic(path, buf.getvalue())
    return n
