"""The `--db PROJECT` option every project command takes (an SQLite file, or a PostgreSQL URL for a
team: postgresql://user@host/dbname, password from ~/.pgpass), and opening the project it names."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.store.project import Project


def add_db_option(parser: argparse.ArgumentParser, *, creates: bool = False, required: bool = True,
                  default=None) -> None:
    """`required=False` (with `default`) for a command that takes --db in more than one place."""
    where = "project file or postgresql://user@host/dbname (password from ~/.pgpass)"
    parser.add_argument("--db", required=required, default=default, metavar="PROJECT",
                        help=f"{where}; created if it does not exist" if creates else where)


def open_db(args: argparse.Namespace) -> Project:
    """The project of `--db`, which must exist (use it as a context manager: it closes the file)."""
    from core.store.project import open_project

    return open_project(args.db, create=False)
