"""A project = one SQLite file. `open_project` creates or migrates it; `Project.session()` frames one
transaction (commit on success, rollback on error), which is the only place the store commits."""
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

SQLITE_MAGIC = b"SQLite format 3\x00"


class Project:
    def __init__(self, path: Path, engine: Engine):
        self.path = path
        self.engine = engine
        self._read = sessionmaker(bind=engine, expire_on_commit=False)
        self._write = sessionmaker(bind=engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False)
        self._snapshot = sessionmaker(bind=engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False)

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
        except OperationalError as e:
            if "locked" in str(e.orig) or "busy" in str(e.orig):
                raise StoreError(f"{self.path.name}: project is busy (another process is writing); try again") from e
            raise

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Project({str(self.path)!r})"


def open_project(path: str | os.PathLike, *, create: bool = True, synchronous: str = SYNCHRONOUS) -> Project:
    """Open (and if needed create, then migrate to the newest schema) a project file.
    `synchronous="FULL"` makes every commit survive power loss too (see core.store.engine)."""
    path = Path(path).expanduser().absolute()
    if not path.exists():
        if not create:
            raise StoreError(f"{path}: no such project file")
        if not path.parent.is_dir():
            raise StoreError(f"{path.parent}: folder does not exist")
    elif path.is_dir():
        raise StoreError(f"{path}: is a folder, not a project file")
    elif path.stat().st_size > 0:
        with open(path, "rb") as f:
            if f.read(16) != SQLITE_MAGIC:
                raise StoreError(f"{path}: not an Inspector project (not an SQLite file)")
    engine = make_engine(path, synchronous=synchronous)
    try:
        migrate.upgrade(engine)
    except DatabaseError as e:
        engine.dispose()
        raise StoreError(f"{path}: cannot open project ({e.orig})") from e
    except BaseException:
        engine.dispose()
        raise
    return Project(path, engine)
