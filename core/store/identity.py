"""Is this file an Inspector project? Decided before anything writes to it.

Opening a file with the store's engine writes at once (WAL mode, then the migrations), so a file
that is not ours must be recognised from the outside first:

- the 100-byte SQLite header: magic string, and `application_id` (bytes 68..71), which every
  project from revision 0003 on carries (APPLICATION_ID, "INSP");
- for a header without it (a project from before revision 0003, or another program's database):
  a read-only connection looks for Alembic's version table holding one of Inspector's revisions.

Anything else is refused with one line and left byte for byte as it was. A zero-byte file becomes a
project only where the caller creates projects. Damage found later (a missing table, a page that
fails to read) is reported by `damaged()` with the way out: `inspector doctor`.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from core.errors import StoreError

APPLICATION_ID = 0x494E5350  # "INSP"
SQLITE_MAGIC = b"SQLite format 3\x00"

NEW, EMPTY, PROJECT = "new", "empty", "project"


def check_project_file(path: Path, *, create: bool) -> str:
    """NEW (no file yet), EMPTY (zero bytes) or PROJECT; raises StoreError for anything else."""
    if not os.path.lexists(path):
        if not create:
            raise StoreError(f"{path}: no such project file")
        if not path.parent.is_dir():
            raise StoreError(f"{path.parent}: folder does not exist")
        return NEW
    if path.is_dir():
        raise StoreError(f"{path}: is a folder, not a project file")
    if not path.is_file():
        raise StoreError(f"{path}: not a regular file, not a project file")
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError as e:
        raise StoreError(f"{path}: cannot read ({e.strerror or e})") from None
    if not header and not _has_wal(path):
        if not create:
            raise StoreError(f"{path}: empty file (0 bytes), not an Inspector project; "
                             f"`inspector import DATASET --db {path.name}` makes it one")
        return EMPTY
    if header and not header.startswith(SQLITE_MAGIC):
        raise StoreError(f"{path}: not an Inspector project (not an SQLite file); it was not changed")
    if len(header) >= 72 and int.from_bytes(header[68:72], "big") == APPLICATION_ID:
        return PROJECT
    _check_without_application_id(path)
    return PROJECT


def _check_without_application_id(path: Path) -> None:
    from core.store.migrate import REVISIONS

    try:
        conn = readonly_connection(path)
    except sqlite3.Error as e:
        raise StoreError(f"{path}: cannot open ({e})") from None
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id == APPLICATION_ID:  # set in a WAL not yet copied into the file's header
            return
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        revision = None
        if "alembic_version" in tables:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
    except sqlite3.DatabaseError as e:
        raise damaged(path, e) from None
    finally:
        conn.close()
    if revision in REVISIONS:
        return  # a project from before application_id; the migration to 0003 stamps it
    if app_id:
        raise StoreError(f"{path}: not an Inspector project (an SQLite database of another program, "
                         f"application id {app_id:#010x}); it was not changed")
    if not tables:
        raise StoreError(f"{path}: not an Inspector project (an SQLite database without tables); it was not changed")
    shown = ", ".join(t for t in tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
    raise StoreError(f"{path}: not an Inspector project (an SQLite database with tables {shown}); it was not changed")


def readonly_connection(path: Path) -> sqlite3.Connection:
    """A connection that cannot write the file, nor leave -wal/-shm files beside another program's database.

    A WAL-mode file without a -wal beside it has nobody writing it and all its data in the file:
    it is opened `immutable` (no shared memory, no locks). Otherwise plain read-only mode, which
    sees what a running writer has committed to its WAL."""
    with open(path, "rb") as f:
        header = f.read(20)
    wal_mode = len(header) == 20 and header[18] == 2
    flags = "mode=ro&immutable=1" if wal_mode and not os.path.lexists(f"{path}-wal") else "mode=ro"
    return sqlite3.connect(f"{Path(path).absolute().as_uri()}?{flags}", uri=True)


def _has_wal(path: Path) -> bool:
    try:
        return os.path.getsize(f"{path}-wal") > 0
    except OSError:
        return False


def missing_schema(conn) -> list[str]:
    """What the newest schema has and this file lacks: 'table X', 'column X.Y' (a DB-API or SQLAlchemy connection)."""
    from core.store.schema import Base

    def rows(sql: str) -> list[tuple]:
        result = conn.exec_driver_sql(sql) if hasattr(conn, "exec_driver_sql") else conn.execute(sql)
        return [tuple(r) for r in result.fetchall()]

    if hasattr(conn, "dialect") and conn.dialect.name != "sqlite":
        from sqlalchemy import inspect

        insp = inspect(conn)
        tables = set(insp.get_table_names())

        def columns_of(name: str) -> set[str]:
            return {c["name"] for c in insp.get_columns(name)}
    else:
        tables = {r[0] for r in rows("SELECT name FROM sqlite_master WHERE type = 'table'")}

        def columns_of(name: str) -> set[str]:
            return {r[1] for r in rows(f'PRAGMA table_info("{name}")')}
    missing = []
    for name, table in Base.metadata.tables.items():
        if name not in tables:
            missing.append(f"table {name}")
            continue
        columns = columns_of(name)
        missing.extend(f"column {name}.{c.name}" for c in table.columns if c.name not in columns)
    return missing


def damaged(path: Path, what: object) -> StoreError:
    """The one message for a project that is damaged: what is wrong and the way out."""
    text = str(getattr(what, "orig", None) or what).strip().splitlines()[0] if str(what).strip() else type(what).__name__
    return StoreError(f"{path}: the project file is damaged ({text}); `inspector doctor --db {path}` checks it "
                      "and can export its labels to a new project")


def check_database(conn, where: str) -> str:
    """The PostgreSQL counterpart of check_project_file, on an open connection that has written
    nothing: EMPTY (no tables: a new project) or PROJECT (Alembic's table holds one of Inspector's
    revisions, or a newer one, which the migration refuses). Another program's database is refused."""
    from sqlalchemy import inspect, text

    from core.store.migrate import REVISIONS

    tables = sorted(inspect(conn).get_table_names())
    if not tables:
        return EMPTY
    if "alembic_version" in tables:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        # A revision we do not know on our tables: a newer Inspector's project (the migration says so).
        if revision in REVISIONS or {"image", "label", "label_event"} <= set(tables):
            return PROJECT
    shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
    raise StoreError(f"{where}: not an Inspector project (a database with tables {shown}); it was not changed")
