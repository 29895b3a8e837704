"""`inspector doctor --db`: check a project file (integrity, schema, migrations) and export its labels."""
from __future__ import annotations

import argparse
import shlex


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check a project file; export the labels of a damaged one",
                       description="Read-only checks of a project file: SQLite integrity, Inspector's identity, "
                                   "schema revision and migrations, tables and columns, references, label copies. "
                                   "Exit status 0 when healthy, 1 when a check failed. --export-labels writes the "
                                   "labels that can still be read to a CSV that `inspector import` takes.")
    p.add_argument("--db", required=True, metavar="PROJECT.db", help="project file (never written to)")
    p.add_argument("--export-labels", metavar="FILE.csv",
                   help="write path, label, split of every image still readable (import it into a new project "
                        "with: inspector import FILE.csv --db NEW.db --root DATASET_ROOT)")
    p.set_defaults(func=doctor_cmd)


def doctor_cmd(args: argparse.Namespace) -> int:
    from core.data.file_checks import printable
    from core.errors import InspectorError
    from core.store.doctor import diagnose, export_labels, recovery_advice
    from core.store.location import is_url

    if is_url(args.db):
        raise InspectorError(f"{args.db}: doctor checks SQLite project files; a server database is checked by the "
                             "server (its logs, pg_amcheck) and opened with the same checks as a file by any command, "
                             "e.g. `inspector classes list --db URL`")
    d = diagnose(args.db)
    db = shlex.quote(args.db)
    for c in d.checks:
        print(f"{c.name:<11} {'ok  ' if c.ok else 'FAIL'}  {c.message}")
    failed = [c for c in d.checks if not c.ok]
    print(f"{printable(str(d.path))}: " + ("healthy" if not failed else
                                          f"{len(failed)} check{'s' if len(failed) > 1 else ''} failed"))
    if args.export_labels:
        if not d.readable:
            raise InspectorError(f"{args.db}: not an Inspector project; nothing to export")
        r = export_labels(args.db, args.export_labels)
        print(f"exported {r.written} images ({r.labelled} labelled) to {args.export_labels}; labels from the "
              f"{r.label_source}" + (f"; {r.lost_rows} image rows unreadable" if r.lost_rows else "") +
              (f"; {r.left_out_missing} images flagged missing left out" if r.left_out_missing else ""))
        for note in r.notes:
            print(f"  note: {note}")
        root = shlex.quote(r.roots[0]) if len(r.roots) == 1 else "DATASET_ROOT"
        print(f"next: inspector import {shlex.quote(args.export_labels)} --db NEW.db --root {root}")
    else:
        for line in recovery_advice(d, db):
            print(line)
    return 0 if not failed else 1
