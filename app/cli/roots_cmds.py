"""`inspector roots list|set|unset`: where this workstation finds each dataset of a shared project."""
from __future__ import annotations

import argparse
import shlex

from app.cli.project_option import add_db_option, open_db
from usecases.shared_roots import SAMPLE

DESCRIPTION = ("A dataset's stored root is the project's name for its folder, the same for everybody sharing "
               "the database. A workstation that mounts the image storage elsewhere (/Volumes/line3 instead of "
               "/mnt/share/line3) maps the stored root to its own folder; the mapping is kept in this user's "
               "settings (roots.json in $INSPECTOR_CONFIG_DIR, default ~/.config/inspector), never in the project.")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("roots", help="map a shared project's dataset folders to where this workstation mounts them",
                       description=DESCRIPTION)
    # --db before the action (`roots --db P list`) or after it (`roots list --db P`), like the other commands.
    _db_option(p, default=None)
    rsub = p.add_subparsers(dest="roots_command", metavar="ACTION", required=True)
    r = rsub.add_parser("list", help="each dataset: id, stored root, this workstation's folder, whether it is there")
    _db_option(r, default=argparse.SUPPRESS)
    r.set_defaults(func=list_cmd)
    r = rsub.add_parser("set", help="read a dataset from LOCAL_PATH on this workstation",
                        description="Map a dataset's stored root to LOCAL_PATH on this workstation. Up to "
                                    f"{SAMPLE} of its images, spread over the dataset, are hashed under LOCAL_PATH first; "
                                    "a file that is missing or differs from the project's copy refuses the "
                                    "mapping, unless --force.")
    r.add_argument("root", metavar="ROOT", help="the dataset's id or stored root (as `roots list` shows them)")
    r.add_argument("local", metavar="LOCAL_PATH", help="the folder holding that dataset on this workstation")
    r.add_argument("--force", action="store_true", help="save the mapping even if the check fails")
    _db_option(r, default=argparse.SUPPRESS)
    r.set_defaults(func=set_cmd)
    r = rsub.add_parser("unset", help="read a dataset from its stored root again on this workstation")
    r.add_argument("root", metavar="ROOT", help="the dataset's id or stored root")
    _db_option(r, default=argparse.SUPPRESS)
    r.set_defaults(func=unset_cmd)


def _db_option(parser: argparse.ArgumentParser, *, default) -> None:
    """The common --db option, optional in each of its two places (_project checks that one gave it).
    After the action its default is SUPPRESS, so that not giving it there keeps the one given before."""
    add_db_option(parser, required=False, default=default)


def _project(args: argparse.Namespace):
    from core.errors import InspectorError

    if not args.db:
        raise InspectorError("roots: --db PROJECT is required (before or after the action)")
    return open_db(args)


def list_cmd(args: argparse.Namespace) -> int:
    from core.data.file_checks import printable
    from core.store.root_map import project_key, roots_file
    from usecases.shared_roots import list_roots

    with _project(args) as project:
        roots = list_roots(project)
        db = project_key(project)  # as --db named it, less any password typed into a URL
    if not roots:
        print("no datasets")
        return 0
    for r in roots:
        where = f" -> {printable(r.local)}" if r.local else " (read as stored)"
        state = "reachable" if r.reachable else "NOT REACHABLE"
        ident = f"{r.dataset_id:>4}" if r.dataset_id is not None else "   -"
        extra = "" if r.dataset_id is not None else "  (no dataset has this root any more)"
        print(f"{ident}  {printable(r.stored_root)}{where}  {state}{extra}")
    unreachable = [r for r in roots if r.dataset_id is not None and not r.reachable]
    if unreachable:
        print(f"map a folder on this workstation: inspector roots --db {shlex.quote(db)} set "
              f"{unreachable[0].dataset_id} LOCAL_PATH")
    print(f"mappings of this workstation: {roots_file()}")
    return 0


def set_cmd(args: argparse.Namespace) -> int:
    from core.data.file_checks import printable
    from usecases.shared_roots import set_root

    with _project(args) as project:
        done = set_root(project, args.root, args.local, force=args.force)
    if done.problem:
        print(f"warning: {printable(done.problem)}; saved anyway (--force)")
    elif done.sampled:
        print(f"checked {done.sampled} images by content hash: all match")
    else:
        print("note: the dataset has no images with content hashes to compare; mapping saved unchecked")
    print(f"dataset {done.dataset.id}: {printable(done.dataset.root)} -> {printable(done.local)} on this workstation "
          f"(saved in {done.settings})")
    return 0


def unset_cmd(args: argparse.Namespace) -> int:
    from core.data.file_checks import printable
    from usecases.shared_roots import unset_root

    with _project(args) as project:
        stored, removed = unset_root(project, args.root)
    if removed:
        print(f"{printable(stored)}: read from the stored root again on this workstation")
    else:
        print(f"{printable(stored)}: no mapping on this workstation; nothing changed")
    return 0
