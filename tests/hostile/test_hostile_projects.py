"""--db pointed at files that are not (or no longer) good projects: another program's SQLite file,
an empty file, a project with a table dropped or a page overwritten. Each command says so in one
line; a foreign file is never written to (its hash is the same after every command)."""
from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest
from conftest import sha256
from trees import png_bytes

CLASSES = ("crack", "good", "scratch")

READ_COMMANDS = [
    ["review", "--db", "{db}"], ["label", "c/x.png", "good", "--db", "{db}"], ["history", "1", "--db", "{db}"],
    ["export", "--db", "{db}", "--out", "out.csv"], ["jobs", "--db", "{db}"], ["errors", "--db", "{db}"],
    ["classes", "list", "--db", "{db}"], ["gui", "--db", "{db}"],
]


def _commands(db: Path, dataset: Path) -> list[list[str]]:
    return [[a.format(db=db) for a in c] for c in READ_COMMANDS] + [["import", str(dataset), "--db", str(db)]]


@pytest.fixture
def dataset(tmp_path) -> Path:
    root = tmp_path / "ds"
    for i in range(300):
        d = root / CLASSES[i % 3]
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{i:03d}.png").write_bytes(png_bytes(i, size=4))
    return root


def _foreign_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, the exact refusal after '<path>: ')."""
    out = {}
    p = tmp_path / "notes.sqlite"
    c = sqlite3.connect(p)
    c.executescript("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); CREATE TABLE tags (name TEXT);"
                    "INSERT INTO notes (text) VALUES ('hello');")
    c.close()
    out["other program"] = (p, "not an Inspector project (an SQLite database with tables notes, tags); it was not changed")
    p = tmp_path / "wal.sqlite"
    c = sqlite3.connect(p)
    c.execute("PRAGMA journal_mode=WAL")
    c.executescript("CREATE TABLE alembic_version (version_num TEXT); INSERT INTO alembic_version VALUES ('ae1027a6acf');")
    c.close()
    out["other program using Alembic, WAL mode"] = (
        p, "not an Inspector project (an SQLite database with tables alembic_version); it was not changed")
    p = tmp_path / "map.gpkg"
    c = sqlite3.connect(p)
    c.executescript("PRAGMA application_id = 1196444487; CREATE TABLE gpkg_contents (table_name TEXT);")
    c.close()
    out["GeoPackage (another application id)"] = (
        p, "not an Inspector project (an SQLite database of another program, application id 0x47504b47); it was not changed")
    p = tmp_path / "blank.db"
    c = sqlite3.connect(p)
    c.execute("PRAGMA user_version = 7")
    c.close()
    out["SQLite without tables"] = (p, "not an Inspector project (an SQLite database without tables); it was not changed")
    p = tmp_path / "notes.db"
    p.write_text("my notes, not a database\n")
    out["text file"] = (p, "not an Inspector project (not an SQLite file); it was not changed")
    return out


@pytest.mark.slow
def test_foreign_files_are_refused_by_every_command_and_never_written(tmp_path, dataset, cli):
    for what, (db, reason) in _foreign_files(tmp_path).items():
        digest, siblings = sha256(db), sorted(p.name for p in tmp_path.iterdir())
        for cmd in _commands(db, dataset):
            r = cli(*cmd, cwd=tmp_path)
            assert (r.rc, r.out, r.err) == (2, "", f"inspector: error: {db}: {reason}\n"), (what, cmd, r)
        r = cli("doctor", "--db", db, cwd=tmp_path)
        assert r.rc == 1 and "identity    FAIL  not an Inspector project" in r.out or "file        FAIL" in r.out, r
        assert sha256(db) == digest, what
        assert sorted(p.name for p in tmp_path.iterdir()) == siblings, what  # no -wal/-shm, no out.csv


def test_a_zero_byte_file_becomes_a_project_only_where_projects_are_made(tmp_path, dataset, cli):
    db = tmp_path / "empty.db"
    db.touch()
    for cmd in _commands(db, dataset)[:-1]:
        r = cli(*cmd, cwd=tmp_path)
        assert (r.rc, r.out, r.err) == (2, "", f"inspector: error: {db}: empty file (0 bytes), not an Inspector "
                                               f"project; `inspector import DATASET --db empty.db` makes it one\n"), cmd
        assert db.stat().st_size == 0
    r = cli("import", dataset, "--db", db, cwd=tmp_path)
    assert r.rc == 0 and "300 new" in r.out
    assert cli("classes", "list", "--db", db, cwd=tmp_path).out.split() == ["100", "'crack'", "100", "'good'", "100", "'scratch'"]


def _project(tmp_path: Path, dataset: Path, cli) -> Path:
    db = tmp_path / "p.db"
    assert cli("import", dataset, "--db", db, cwd=tmp_path).rc == 0
    assert cli("label", "crack/000.png", "good", "--db", db, cwd=tmp_path).rc == 0  # one manual correction
    return db


def _labels(db: Path) -> dict[str, str]:
    c = sqlite3.connect(db)
    rows = c.execute("SELECT image.rel_path, class.name FROM image JOIN label ON label.image_id = image.id "
                     "JOIN class ON class.id = label.class_id").fetchall()
    c.close()
    return dict(rows)


def test_a_dropped_table_is_refused_with_the_way_out_and_the_labels_come_back(tmp_path, dataset, cli):
    db = _project(tmp_path, dataset, cli)
    before = _labels(db)
    c = sqlite3.connect(db)
    c.execute("DROP TABLE label")
    c.close()
    damaged = (f"inspector: error: {db}: the project file is damaged (table label is missing); "
               f"`inspector doctor --db {db}` checks it and can export its labels to a new project\n")
    digest = sha256(db)
    for cmd in _commands(db, dataset):
        r = cli(*cmd, cwd=tmp_path)
        assert (r.rc, r.out, r.err) == (2, "", damaged), (cmd, r)
    r = cli("doctor", "--db", db, cwd=tmp_path)
    assert r.rc == 1
    lines = r.out.splitlines()
    assert "schema      FAIL  missing: table label" in lines
    assert "labels      FAIL  not checked: the image or label table is missing" in lines
    assert lines[-1] == (f"to recover: inspector doctor --db {db} --export-labels labels.csv, then inspector import "
                         "labels.csv --db NEW.db --root DATASET_ROOT (the labels come back as imported labels; the "
                         "history stays in this file)")
    r = cli("doctor", "--db", db, "--export-labels", "labels.csv", cwd=tmp_path)
    assert r.out.splitlines()[-3:] == [
        "exported 300 images (300 labelled) to labels.csv; labels from the images' label copy (image.class_id)",
        "  note: label table unreadable (no such table: label): labels taken from the images' copy of them",
        f"next: inspector import labels.csv --db NEW.db --root {dataset}",
    ]
    assert sha256(db) == digest  # the doctor only reads
    r = cli("import", "labels.csv", "--db", "new.db", "--root", dataset, cwd=tmp_path)
    assert r.rc == 0 and "300 new" in r.out, r
    assert _labels(tmp_path / "new.db") == before  # the manual correction included


def _overwrite_a_page_of(db: Path, table: str) -> int:
    c = sqlite3.connect(db)
    page_size = c.execute("PRAGMA page_size").fetchone()[0]
    pages = [p for (p,) in c.execute("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno",
                                     (table,))]
    rows_on_page = c.execute("SELECT ncell FROM dbstat WHERE name = ? AND pageno = ?", (table, pages[1])).fetchone()[0]
    c.close()
    with open(db, "r+b") as f:
        f.seek((pages[1] - 1) * page_size)
        f.write(b"\xa5" * page_size)
    return rows_on_page


def test_an_overwritten_page_is_refused_and_the_rest_is_exported(tmp_path, dataset, cli):
    db = _project(tmp_path, dataset, cli)
    before = _labels(db)
    lost = _overwrite_a_page_of(db, "image")
    r = cli("export", "--db", db, "--out", "all.csv", cwd=tmp_path)  # reads every image row
    assert not (tmp_path / "all.csv").exists()
    assert r.rc == 2 and r.out == "" and r.err.startswith(f"inspector: error: {db}: the project file is damaged (")
    assert r.err.endswith(f"); `inspector doctor --db {db}` checks it and can export its labels to a new project\n")
    r = cli("doctor", "--db", db, cwd=tmp_path)
    assert r.rc == 1 and any(l.startswith("integrity   FAIL  ") for l in r.out.splitlines()), r
    r = cli("doctor", "--db", db, "--export-labels", "labels.csv", cwd=tmp_path)
    assert f"exported {300 - lost} images ({300 - lost} labelled) to labels.csv; labels from the label table; " \
           f"{lost} image rows unreadable" in r.out, r
    with open(tmp_path / "labels.csv", newline="") as f:
        exported = {row["rel_path"]: row["label"] for row in csv.DictReader(f)}
    assert len(exported) == 300 - lost and all(before[p] == label for p, label in exported.items())
