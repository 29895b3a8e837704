"""`inspector classes list|merge`: the project's class names, and joining look-alikes ("GOOD" and "good")."""
from __future__ import annotations

import argparse
import shlex

from app.cli.project_option import add_db_option, open_db


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classes", help="list classes; merge one class into another",
                       description="Class names that differ only in case or spacing are flagged; "
                                   "`merge A B` makes A's images B's in one audited, undoable action.")
    csub = p.add_subparsers(dest="classes_command", metavar="ACTION", required=True)
    c = csub.add_parser("list", help="classes with their image counts; look-alike names are flagged")
    add_db_option(c)
    c.set_defaults(func=list_cmd)
    c = csub.add_parser("merge", help="relabel every image of class A as B, then retire A",
                        description="Every image labelled A gets label B (one label action with your name in each "
                                    "image's history; `undo` in the GUI reverts it). A is no longer listed, and "
                                    "imports that still say A file their images under B.")
    c.add_argument("source", metavar="A", help="class to merge away")
    c.add_argument("target", metavar="B", help="class that takes its images")
    add_db_option(c)
    c.add_argument("--user", metavar="NAME", help="who merges (default: your login name)")
    c.set_defaults(func=merge_cmd)


def list_cmd(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from core.store.class_merge import similar_classes
    from core.store.classes import class_names
    from core.store.schema import Image, ImageClass

    with open_db(args) as project, project.session() as s:
        names = class_names(s)
        counts = dict(s.execute(select(ImageClass.name, func.count(Image.id))
                                .join(Image, Image.class_id == ImageClass.id).group_by(ImageClass.name)).all())
        similar = similar_classes(s)
    if not names:
        print("no classes")
        return 0
    flagged = {n for g in similar for n in g}
    for n in names:
        print(f"{counts.get(n, 0):>8}  {n!r}" + ("  (looks like another class)" if n in flagged else ""))
    for g in similar:
        merges = ", then ".join(f"inspector classes merge {shlex.quote(n)} {shlex.quote(g[-1])} --db {shlex.quote(args.db)}"
                                for n in g[:-1])
        print(f"warning: {' and '.join(repr(n) for n in g)} differ only in case or spacing; to make them one: {merges}")
    return 0


def merge_cmd(args: argparse.Namespace) -> int:
    from core.store.class_merge import merge_classes

    with open_db(args) as project, project.session(write=True) as s:
        r = merge_classes(s, args.source, args.target, user=args.user)
    print(f"merged class {r.source!r} into {r.target!r}: {r.moved} images relabelled"
          + (f" (label action {r.group_id}, undoable)" if r.group_id else ""))
    return 0
