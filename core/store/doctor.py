"""`inspector doctor`: check a project file, and get its labels out of a damaged one.

Everything here reads through a read-only SQLite connection, so the doctor never makes a damaged
file worse (and never migrates it). Checks, each ending in one line:

  file        it exists and is an SQLite file
  identity    Inspector's application_id, or a known schema revision (projects from before 0003)
  integrity   PRAGMA integrity_check
  migrations  the schema revision: current, upgradable on the next open, or newer than this Inspector
  schema      every table and column the file's revision should have
  references  PRAGMA foreign_key_check
  labels      image.class_id (the indexed copy) agrees with label.class_id

`export_labels` writes a CSV manifest (path, label, split, rel_path, dataset_root) from whatever
can still be read: rows are read in id ranges, and a range that fails is halved until the bad rows
are isolated, so one damaged page costs only the rows on it. Labels come from the label table, or
from the images' own copy when that table is gone. The CSV imports into a new project with
`inspector import labels.csv --db NEW.db --root DATASET_ROOT`.
"""
from __future__ import annotations

import csv
import io
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from core.atomic import write_text_atomic
from core.errors import InspectorError
from core.store.identity import APPLICATION_ID, SQLITE_MAGIC

EXPORT_COLUMNS = ("path", "label", "split", "rel_path", "dataset_root")


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    message: str


@dataclass(slots=True)
class Diagnosis:
    path: Path
    checks: list[Check] = field(default_factory=list)
    revision: str | None = None

    @property
    def healthy(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def readable(self) -> bool:
        """An SQLite file of Inspector's: worth trying an export from."""
        return any(c.name == "identity" and c.ok for c in self.checks)


@dataclass(slots=True)
class LabelExport:
    written: int = 0
    labelled: int = 0
    lost_rows: int = 0  # image rows that could not be read
    left_out_missing: int = 0  # images flagged missing (not on disk at the last import)
    label_source: str = "label table"
    roots: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def diagnose(path: str | os.PathLike) -> Diagnosis:
    from core.store.migrate import HEAD, REVISIONS, TABLES_ADDED
    from core.store.schema import Base

    path = Path(path).expanduser().absolute()
    d = Diagnosis(path)
    if not path.is_file():
        d.checks.append(Check("file", False, "no such file" if not os.path.lexists(path) else "not a regular file"))
        return d
    with open(path, "rb") as f:
        header = f.read(100)
    if not header.startswith(SQLITE_MAGIC):
        d.checks.append(Check("file", False, "empty file (0 bytes)" if not header else "not an SQLite file"))
        return d
    d.checks.append(Check("file", True, f"SQLite file, {path.stat().st_size} bytes"))
    try:
        conn = _connect(path)
    except sqlite3.Error as e:
        d.checks.append(Check("identity", False, f"cannot open it read-only ({e})"))
        return d
    try:
        app_id = _one(conn, "PRAGMA application_id")
        tables = _tables(conn)
        revision = None
        if tables is not None and "alembic_version" in tables:
            revision = _one(conn, "SELECT version_num FROM alembic_version")
        d.revision = revision if isinstance(revision, str) else None
        if app_id == APPLICATION_ID or d.revision in REVISIONS:
            d.checks.append(Check("identity", True, "an Inspector project" + (
                "" if app_id == APPLICATION_ID else " (from before project identity; stamped on the next open)")))
        else:
            what = f"application id {app_id:#010x}" if app_id else (
                f"unknown schema revision {d.revision!r}" if d.revision else "no Inspector schema revision")
            d.checks.append(Check("identity", False, f"not an Inspector project ({what})"))
            return d
        d.checks.append(_integrity(conn))
        if d.revision == HEAD:
            d.checks.append(Check("migrations", True, f"schema revision {HEAD} (current)"))
        elif d.revision in REVISIONS:
            d.checks.append(Check("migrations", True, f"schema revision {d.revision}; upgraded to {HEAD} the next time "
                                                      "Inspector opens it"))
        else:
            d.checks.append(Check("migrations", False, f"schema revision {d.revision!r} is unknown: newer than this "
                                                       "Inspector, or damaged"))
        d.checks.append(_schema(conn, tables or set(), d.revision, REVISIONS, TABLES_ADDED, Base))
        d.checks.append(_references(conn))
        d.checks.append(_label_copies(conn, tables or set()))
    finally:
        conn.close()
    return d


def recovery_advice(d: Diagnosis, db_text: str) -> list[str]:
    if d.healthy or not d.readable:
        return []
    return [f"to recover: inspector doctor --db {db_text} --export-labels labels.csv, then "
            "inspector import labels.csv --db NEW.db --root DATASET_ROOT "
            "(the labels come back as imported labels; the history stays in this file)"]


def export_labels(path: str | os.PathLike, out: str | os.PathLike) -> LabelExport:
    """Write the labels that can still be read to `out` (CSV, atomically). Raises InspectorError when
    nothing usable is left (no image table, no class names)."""
    path = Path(path).expanduser().absolute()
    try:
        conn = _connect(path)
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.Error as e:
        raise InspectorError(f"{path}: cannot read it at all ({e})") from None
    try:
        return _export(conn, path, Path(out))
    finally:
        conn.close()


def _export(conn: sqlite3.Connection, path: Path, out: Path) -> LabelExport:
    from core.store.paths import join_root

    result = LabelExport()
    try:
        classes = {cid: name for cid, name in conn.execute("SELECT id, name FROM class")}
    except sqlite3.DatabaseError as e:
        raise InspectorError(f"{path}: the class names cannot be read ({e}); no labels can be exported") from None
    try:
        roots = {i: root for i, root in conn.execute("SELECT id, root FROM dataset")}
    except sqlite3.DatabaseError as e:
        roots = {}
        result.notes.append(f"dataset roots unreadable ({e}): paths are relative, give --root when importing")
    labels: dict[int, int | None] | None = None
    try:
        rows, lost = _salvage(conn, "label", "SELECT image_id, class_id FROM label WHERE image_id BETWEEN ? AND ?",
                              "image_id")
        labels = dict(rows)
        if lost:
            result.notes.append(f"{lost} rows of the label table unreadable: those images use their label copy")
    except sqlite3.DatabaseError as e:
        result.label_source = "images' label copy (image.class_id)"
        result.notes.append(f"label table unreadable ({e}): labels taken from the images' copy of them")
    try:
        images, failed_ids = _salvage(
            conn, "image",
            "SELECT id, dataset_id, rel_path, split, class_id, missing FROM image WHERE id BETWEEN ? AND ?", "id")
    except sqlite3.DatabaseError as e:
        raise InspectorError(f"{path}: the image table cannot be read ({e}); nothing to export") from None
    # An intact index still counts the rows exactly; the ids that failed to read are only an estimate
    # (a search for a neighbour of the damaged page fails too).
    total = _one(conn, "SELECT count(*) FROM image")
    result.lost_rows = total - len(images) if isinstance(total, int) and total >= len(images) else failed_ids
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(EXPORT_COLUMNS)
    used_roots = set()
    for iid, ds, rel, split, copy, missing in sorted(images):
        if missing:
            result.left_out_missing += 1
            continue
        cid = labels.get(iid, copy) if labels is not None else copy
        name = classes.get(cid) if cid is not None else None
        root = roots.get(ds, "")
        used_roots.add(root)
        w.writerow([join_root(root, rel) if root else rel, name or "", split or "", rel, root])
        result.written += 1
        result.labelled += name is not None
    write_text_atomic(out, buf.getvalue())
    result.roots = sorted(r for r in used_roots if r)
    return result


def _connect(path: Path) -> sqlite3.Connection:
    from core.store.identity import readonly_connection

    return readonly_connection(path)


def _one(conn: sqlite3.Connection, sql: str):
    try:
        row = conn.execute(sql).fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def _tables(conn: sqlite3.Connection) -> set[str] | None:
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError:
        return None


def _integrity(conn: sqlite3.Connection) -> Check:
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check(100)")]
    except sqlite3.DatabaseError as e:
        return Check("integrity", False, f"the check itself failed ({e})")
    if rows == ["ok"]:
        return Check("integrity", True, "ok")
    more = f" (and {len(rows) - 1} more problem{'s' if len(rows) > 2 else ''})" if len(rows) > 1 else ""
    return Check("integrity", False, f"{rows[0]}{more}")


def _schema(conn, tables: set[str], revision, revisions, tables_added, base) -> Check:
    if revision not in revisions:
        return Check("schema", False, "not checked: unknown schema revision")
    expected = [t for r in revisions[: revisions.index(revision) + 1] for t in tables_added[r]]
    missing = [f"table {t}" for t in expected if t not in tables]
    if revision == revisions[-1]:
        for t in expected:
            if t in tables:
                try:
                    have = {r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')}
                except sqlite3.DatabaseError as e:
                    missing.append(f"table {t} unreadable ({e})")
                    continue
                missing += [f"column {t}.{c.name}" for c in base.metadata.tables[t].columns if c.name not in have]
    if missing:
        return Check("schema", False, "missing: " + ", ".join(missing))
    return Check("schema", True, f"all {len(expected)} tables present")


def _references(conn: sqlite3.Connection) -> Check:
    try:
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
    except sqlite3.DatabaseError as e:
        return Check("references", False, f"cannot be checked ({e})")
    if broken:
        tables = sorted({r[0] for r in broken})
        return Check("references", False, f"{len(broken)} rows refer to rows that do not exist (in {', '.join(tables)})")
    return Check("references", True, "ok")


def _label_copies(conn: sqlite3.Connection, tables: set[str]) -> Check:
    if not {"image", "label"} <= tables:
        return Check("labels", False, "not checked: the image or label table is missing")
    try:
        n_images = _one(conn, "SELECT count(*) FROM image")
        n_labelled = _one(conn, "SELECT count(*) FROM label WHERE class_id IS NOT NULL")
        differ = conn.execute("SELECT count(*) FROM image JOIN label ON label.image_id = image.id "
                              "WHERE image.class_id IS NOT label.class_id").fetchone()[0]
    except sqlite3.DatabaseError as e:
        return Check("labels", False, f"cannot be read ({e})")
    if differ:
        return Check("labels", False, f"{differ} images whose label and its indexed copy disagree")
    return Check("labels", True, f"{n_images} images, {n_labelled} labelled")


def _salvage(conn: sqlite3.Connection, table: str, sql: str, key: str) -> tuple[list[tuple], int]:
    """All rows of `sql` (which takes an id range) that can be read, and how many ids failed.
    Raises DatabaseError when the table cannot be read at all."""
    top = None
    for q in (f"SELECT max({key}) FROM {table}", f"SELECT {key} FROM {table} ORDER BY {key} DESC LIMIT 1"):
        try:
            top = conn.execute(q).fetchone()[0]
            break
        except sqlite3.DatabaseError as e:
            error = e
    else:
        raise error
    if top is None:
        return [], 0
    rows: list[tuple] = []
    lost = 0
    stack = [(0, int(top))]
    while stack:
        lo, hi = stack.pop()
        try:
            rows += conn.execute(sql, (lo, hi)).fetchall()
        except sqlite3.DatabaseError:
            if lo == hi:
                lost += 1
            else:
                mid = (lo + hi) // 2
                stack += [(mid + 1, hi), (lo, mid)]
    return rows, lost
