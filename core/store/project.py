"""A project = one SQLite file, or one PostgreSQL database for a team (core.store.location).
`open_project` creates or migrates it; `Project.session()` frames one transaction (commit on
success, rollback on error), which is the only place the store commits.

A file is checked before the engine touches it (core.store.identity): another program's database is
refused and never written to; a damaged project (a missing table, unreadable pages) is refused, at
open or at the first statement that trips over it, with one line pointing at `inspector doctor`."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.store import migrate
from core.store.engine import SYNCHRONOUS, make_engine
from core.errors import StoreError
from core.store.identity import SQLITE_MAGIC, check_project_file, damaged, missing_schema  # noqa: F401 (SQLITE_MAGIC re-exported)
from core.store.location import SQLITE, Location, parse_location

_DAMAGE = ("no such table", "no such column", "malformed", "not a database", "corrupt")


class Project:
    def __init__(self, location: "Location | Path", engine: Engine):
        self.location = location if isinstance(location, Location) else Location(SQLITE, path=Path(location))
        # The SQLite file; None for a server database (use `location` for names and side folders).
        self.path = self.location.path
        self.engine = engine
        self._read = sessionmaker(bind=engine, expire_on_commit=False)
        self._write = sessionmaker(bind=engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False)
        snapshot = (engine.execution_options(sqlite_begin="DEFERRED") if self.location.kind == SQLITE else
                    engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True))
        self._snapshot = sessionmaker(bind=snapshot, expire_on_commit=False)

    @contextmanager
    def session(self, *, write: bool = False, snapshot: bool = False) -> Iterator[Session]:
        """One unit of work, committed on success, rolled back on error.

        Plain: reads see the latest committed state statement by statement; the transaction starts
        at the first write (the store's write functions start with a write, so their reads and
        writes are one consistent state). `write=True` takes the write lock at BEGIN: for custom
        read-then-write work. `snapshot=True`: a read-only session that sees one consistent state
        throughout (do not write in it: a writer that committed meanwhile makes the write fail)."""
        maker = self._write if write else self._snapshot if snapshot else self._read
        try:
            with maker.begin() as session:
                yield session
        except DatabaseError as e:
            error = store_error(self.location, e)
            if error is None:
                raise  # a constraint our own code broke: a bug, with its traceback
            raise error from e

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Project({self.location.display!r})"


def store_error(where: "Location | Path", e: DatabaseError) -> StoreError | None:
    """A database error in words: busy, damaged (with the way out), read-only, or what SQLite said
    about the file or the disk. None for errors that are not about the file (constraints: bugs)."""
    if isinstance(where, Location) and where.kind != SQLITE:
        from core.store.server import server_error

        return server_error(where, e)
    path = where.path if isinstance(where, Location) else where
    orig = str(e.orig)
    if isinstance(e, OperationalError) and ("locked" in orig or "busy" in orig):
        return StoreError(f"{path.name}: project is busy (another process is writing); try again")
    if any(k in orig for k in _DAMAGE):
        return damaged(path, orig)
    if "readonly" in orig:
        return StoreError(f"{path}: cannot write the project (the file or its folder is read-only)")
    if isinstance(e, OperationalError):  # disk full, I/O error, cannot open the file
        return StoreError(f"{path}: {orig}")
    return None


def open_project(where: "str | os.PathLike | Location", *, create: bool = True,
                 synchronous: str = SYNCHRONOUS) -> Project:
    """Open (and if needed create, then migrate to the newest schema) a project file or database.
    `create=False`: only an existing project (not even a zero-byte file) is opened.
    `synchronous="FULL"` makes every commit survive power loss too (see core.store.engine)."""
    location = parse_location(where)
    if location.kind == SQLITE:
        check_project_file(location.path, create=create)
    engine = make_engine(location, synchronous=synchronous)
    try:
        if location.kind != SQLITE:
            from core.store.server import prepare_server_database

            prepare_server_database(location, engine, create=create)
        migrate.upgrade(engine)
        with engine.connect() as conn:
            missing = missing_schema(conn)
        if missing:
            what = f"{missing[0]} is missing" + (f", and {len(missing) - 1} more" if len(missing) > 1 else "")
            if location.kind == SQLITE:
                raise damaged(location.path, what)
            raise StoreError(f"{location.display}: the project database is damaged ({what})")
    except DatabaseError as e:
        engine.dispose()
        raise (store_error(location, e) or StoreError(f"{location.display}: cannot open project ({e.orig})")) from e
    except BaseException:
        engine.dispose()
        raise
    return Project(location, engine)
