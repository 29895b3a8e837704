"""`inspector import`, `label`, `history`: the project store from the command line."""
from __future__ import annotations

import argparse
import shlex

from app.cli.project_option import add_db_option, open_db

SHOWN_PROBLEMS = 20  # unreadable/skipped files named in the import's output; --report and `inspector errors` have all


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import (or re-import) a dataset folder or CSV manifest into a project",
                       description="Scan a dataset and add it to a project file (created if missing). "
                                   "Re-importing is safe: new, changed and missing files are detected, "
                                   "and labels corrected by inspectors are kept.")
    p.add_argument("path", metavar="PATH", help="dataset folder (ImageFolder or MVTec layout) or CSV manifest")
    add_db_option(p, creates=True)
    p.add_argument("--format", default="auto", choices=["auto", "imagefolder", "mvtec", "csv", "txt"],
                   help="dataset layout (default: auto-detect); txt: a list without a header, one image per line, "
                        "columns separated by spaces or tabs")
    p.add_argument("--path-column", metavar="C", help="CSV: column holding image paths (default: guessed); "
                                                      "txt: its number (default 1)")
    p.add_argument("--label-column", metavar="C", help="CSV: column holding labels (default: guessed); "
                                                       "txt: its number (default 2); '' imports unlabeled")
    p.add_argument("--split-column", metavar="C", help="CSV: column holding train/val/test (default: guessed); "
                                                       "txt: its number (default: none)")
    p.add_argument("--root", metavar="DIR", help="CSV/txt: folder the image paths are relative to (default: the list's folder)")
    p.add_argument("--user", metavar="NAME", help="who imports (default: your login name)")
    p.add_argument("--report", metavar="FILE.csv",
                   help="write every unreadable and skipped file with its reason to this CSV (the output shows the first "
                        f"{SHOWN_PROBLEMS})")
    p.set_defaults(func=import_cmd)

    p = sub.add_parser("label", help="set the label of one image",
                       description="Set an image's label; recorded in its history with your user name.")
    p.add_argument("image", metavar="IMAGE", help="image id, or path relative to the dataset root")
    p.add_argument("label", metavar="CLASS", help="class name (must exist in the project)")
    add_db_option(p)
    p.add_argument("--user", metavar="NAME", help="who labels (default: your login name)")
    p.add_argument("--expect-version", type=int, metavar="V",
                   help="refuse if the label's version is no longer V (someone changed it meanwhile)")
    p.set_defaults(func=label_cmd)

    p = sub.add_parser("history", help="label history of one image",
                       description="Every label change of an image: when, who, from, to, and how (import, "
                                   "manual, bulk, undo, redo).")
    p.add_argument("image", metavar="IMAGE", help="image id, or path relative to the dataset root")
    add_db_option(p)
    p.add_argument("--json", action="store_true", help="print JSON lines, one per event")
    p.set_defaults(func=history_cmd)


def import_cmd(args: argparse.Namespace) -> int:
    from app.cli.progress_line import cli_reporter
    from usecases.dataset_import import import_dataset

    outcome = import_dataset(args.db, args.path, format=args.format, path_column=args.path_column,
                             label_column=args.label_column, split_column=args.split_column, root=args.root,
                             user=args.user, progress=cli_reporter())
    report = outcome.report
    print(f"imported {outcome.format} dataset into {args.db}")
    for line in report.summary_lines(db=args.db):
        print(line)
    more = f"`inspector errors --db {shlex.quote(args.db)}` lists them all" + ("" if args.report else " (or --report FILE)")
    for line in report.problem_lines(SHOWN_PROBLEMS, more=more):
        print(line)
    if args.report:
        from app.cli.problems_cmds import write_report

        n = write_report(args.report, [("unreadable", p, r, report.root) for p, r in report.unreadable_files] +
                         [("skipped", p, r, report.root) for p, r in report.skipped])
        print(f"report: {n} files with their reasons in {args.report}")
    return 0


def label_cmd(args: argparse.Namespace) -> int:
    from core.data.file_checks import printable
    from usecases.labelling import set_image_label

    with open_db(args) as project:
        w = set_image_label(project, args.image, args.label, user=args.user, expected_version=args.expect_version)
    rec, state = w.image, w.state
    if state.group_id is None:
        print(f"{printable(rec.rel_path)}: already {state.label} (version {state.version}); nothing changed")
    else:
        print(f"{printable(rec.rel_path)}: {rec.label or '(unlabeled)'} -> {state.label} "
              f"(version {state.version}, by {state.updated_by})")
    return 0


def history_cmd(args: argparse.Namespace) -> int:
    import json

    from core.data.file_checks import printable
    from usecases.labelling import image_history

    with open_db(args) as project:
        rec, events = image_history(project, args.image)
    if args.json:
        for e in events:
            print(json.dumps({"time": e.time.isoformat(), "user": e.user, "old": e.old, "new": e.new,
                              "source": e.source, "group": e.group_id, "event": e.id}))
        return 0
    print(f"{printable(rec.rel_path)} (id {rec.id}): now {rec.label or '(unlabeled)'}, version {rec.label_version}")
    if not events:
        print("  no label changes")
    for e in events:
        print(f"  {e.time:%Y-%m-%d %H:%M:%S}  {e.user:<12} {e.source:<7} {e.old or '-'} -> {e.new or '-'}")
    return 0
