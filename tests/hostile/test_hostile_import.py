"""One generated tree with every hostile case at once, imported with the real CLI: every file that did
not come in is named with its reason, nothing hangs or crashes, nothing is written but the project."""
from __future__ import annotations

import csv
import os
import sqlite3

import pytest
from trees import LONG_NAME, make_hostile_tree, png_bytes

from core.data.file_checks import printable


@pytest.fixture
def tree(tmp_path):
    t = make_hostile_tree(tmp_path)
    yield t
    t.close()


def expected_problem_lines(t) -> list[str]:
    rows = [("unreadable", p, r) for p, r in sorted(t.unreadable.items())] + \
           [("skipped", p, r) for p, r in sorted(t.skipped.items())]
    return [f"{len(t.unreadable)} unreadable (imported, flagged unreadable), {len(t.skipped)} skipped (not imported):",
            *(f"  {kind:<10}  {path}: {reason}" for kind, path, reason in rows)]


def test_every_case_is_named_with_its_reason_and_nothing_else_is_written(tree, tmp_path, cli, state):
    before = state(tmp_path)
    r = cli("import", tree.root, "--db", "p.db", cwd=tmp_path, timeout=120)  # a FIFO would hang it: timeout
    assert r.rc == 0, r
    assert r.messages == [], r  # only progress on stderr: no Python warning, no traceback
    lines = r.out.splitlines()
    n_images = len(tree.imported) + len(tree.unreadable)
    assert lines[:5] == [
        "imported imagefolder dataset into p.db",
        f"{tree.root}: {n_images} new, 0 changed, 0 unchanged, 0 missing, {len(tree.unreadable)} unreadable",
        f"labels: {n_images} set from the import, 0 manual corrections kept",
        "duplicates: 3 groups of identical files, 1 filed under different labels",  # hard link, inside link, 2 empty
        f"{len(tree.skipped)} files skipped, not imported (not regular image files, or gone during the scan)",
    ]
    assert lines[-(len(tree.unreadable) + len(tree.skipped) + 1):] == expected_problem_lines(tree)
    # Nothing in the dataset (or next to it) changed; the only new files are the project's.
    after = state(tmp_path)
    assert set(after) - set(before) <= {b"p.db", b"p.db-wal", b"p.db-shm"}
    assert {k: v for k, v in after.items() if not k.startswith(b"p.db")} == before
    # The project holds the readable and the unreadable images under their real names, nothing skipped.
    conn = sqlite3.connect(tmp_path / "p.db")
    rows = dict(conn.execute("SELECT rel_path, readable FROM image").fetchall())
    conn.close()
    assert {p for p, ok in rows.items() if ok} == set(tree.imported)
    assert {printable(p) for p, ok in rows.items() if not ok} == set(tree.unreadable)
    assert "good/" + LONG_NAME in rows and "good/line\nbreak.png" in rows


def test_errors_command_and_report_list_the_same_files(tree, tmp_path, cli):
    r = cli("import", tree.root, "--db", "p.db", "--report", "report.csv", cwd=tmp_path)
    n = len(tree.unreadable) + len(tree.skipped)
    assert r.out.splitlines()[-1] == f"report: {n} files with their reasons in report.csv"
    with open(tmp_path / "report.csv", newline="") as f:
        report = list(csv.DictReader(f))
    assert {(x["kind"], x["path"], x["reason"]) for x in report} == \
           {("unreadable", p, why) for p, why in tree.unreadable.items()} | \
           {("skipped", p, why) for p, why in tree.skipped.items()}
    assert {x["dataset_root"] for x in report} == {str(tree.root)}

    r = cli("errors", "--db", "p.db", cwd=tmp_path)
    assert r.rc == 0 and r.err == ""
    head, *body = r.out.splitlines()
    assert head == f"{len(tree.unreadable)} unreadable (imported, flagged unreadable), {len(tree.skipped)} " \
                   f"skipped (not imported) in {tree.root}"
    assert sorted(body) == sorted(expected_problem_lines(tree)[1:])
    r = cli("errors", "--db", "p.db", "--kind", "skipped", cwd=tmp_path)
    assert len(r.out.splitlines()) == 1 + len(tree.skipped)


def test_reimport_after_fixing_replaces_the_skipped_list(tree, tmp_path, cli):
    cli("import", tree.root, "--db", "p.db", cwd=tmp_path)
    os.unlink(tree.root / "bad" / "fifo.png")
    (tree.root / "bad" / "empty.png").write_bytes(png_bytes(99))
    r = cli("import", tree.root, "--db", "p.db", cwd=tmp_path)
    assert r.rc == 0
    assert f"{len(tree.skipped) - 1} files skipped, not imported" in r.out
    assert "bad/fifo.png" not in r.out and "bad/empty.png" not in r.out and "1 changed" in r.out
    errors = cli("errors", "--db", "p.db", cwd=tmp_path).out
    assert "bad/fifo.png" not in errors and "bad/empty.png" not in errors and "bad/zero.png" in errors


def test_only_the_first_twenty_are_shown_and_the_rest_are_counted(tmp_path, cli):
    root = tmp_path / "many" / "c"
    root.mkdir(parents=True)
    for i in range(30):
        (root / f"{i:02d}.png").write_bytes(b"")
    r = cli("import", tmp_path / "many", "--db", "p.db", cwd=tmp_path)
    listing = r.out.splitlines()[-22:]
    assert listing[0] == "30 unreadable (imported, flagged unreadable), 0 skipped (not imported):"
    assert listing[1:21] == [f"  unreadable  c/{i:02d}.png: empty file (0 bytes)" for i in range(20)]
    assert listing[21] == "  ... and 10 more; `inspector errors --db p.db` lists them all (or --report FILE)"


def test_a_fifo_or_device_given_as_the_dataset_is_refused_not_opened(tmp_path, cli):
    os.mkfifo(tmp_path / "labels.csv")
    for args in (["labels.csv"], ["labels.csv", "--format", "csv"], ["/dev/zero", "--format", "txt"]):
        r = cli("import", *args, "--db", "p.db", cwd=tmp_path, timeout=60)
        kind = "a character device" if args[0] == "/dev/zero" else "a named pipe (FIFO)"
        assert (r.rc, r.out, r.err) == (2, "", f"inspector: error: {args[0]}: {kind}, not a dataset folder or a "
                                                f"manifest file\n")
    assert not (tmp_path / "p.db").exists()  # a refused import leaves no project behind
