"""The command line under hostile use: output piped into `head`, values with a trailing newline, class
names that differ only in case, header-less label lists, manifests naming things that are not files."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO
from trees import png_bytes


def _images(folder: Path, names: list[str], seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, n in enumerate(names):
        (folder / n).write_bytes(png_bytes(seed * 100 + i))


def _piped_into_head(args: list[str], cwd: Path, *, merge_stderr: bool = False) -> tuple[int, str, str]:
    """Run the CLI with its output read by something that stops after the first line, like `| head -1`."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO))
    p = subprocess.Popen([sys.executable, "-m", "app", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE, text=True)
    first = p.stdout.readline()
    p.stdout.close()
    err = "" if merge_stderr else p.stderr.read()
    return p.wait(timeout=120), first, err


def test_output_piped_into_head_ends_quietly(tmp_path, cli):
    folder = tmp_path / "ds" / "c"
    folder.mkdir(parents=True)
    for i in range(3000):
        (folder / f"{i:04d}.png").write_bytes(b"")
    assert cli("import", tmp_path / "ds", "--db", "p.db", cwd=tmp_path).rc == 0
    rc, first, err = _piped_into_head(["errors", "--db", "p.db"], tmp_path)  # ~150 KB: more than a pipe holds
    assert (rc, first, err) == (141, "3000 unreadable (imported, flagged unreadable), 0 skipped (not imported) in "
                                     f"{tmp_path / 'ds'}\n", "")
    rc, first, err = _piped_into_head(["--help"], tmp_path)
    assert rc in (0, 141) and first.startswith("usage: inspector") and err == ""
    # stdout and stderr into the same closed pipe while the import is still scanning: it stops, and
    # leaves no project behind (a new one is only made once the scan is done).
    rc, _, _ = _piped_into_head(["import", str(tmp_path / "ds"), "--db", "q.db"], tmp_path, merge_stderr=True)
    assert rc == 141 and not (tmp_path / "q.db").exists()


def test_values_with_a_trailing_newline_are_refused(tmp_path, cli):
    r = cli("finetune", "--db", "p.db", "--base", "aan_s", "--backend", "slurm", "--partition", "debug\n", cwd=tmp_path)
    assert (r.rc, r.out, r.err) == (2, "", "inspector: error: profile slurm-gpu: partition 'debug\\n': letters, digits, "
                                           "'.', '_' and '-' only\n")
    r = cli("finetune", "--db", "p.db", "--base", "aan_s", "--profile", "slurm-cpu", "--partition", "gpu\n#SBATCH --x",
            cwd=tmp_path)
    assert r.rc == 2 and r.err.startswith("inspector: error: profile slurm-cpu: partition 'gpu\\n#SBATCH --x'")


def test_an_image_id_in_other_digits_is_a_path_not_a_crash(tmp_path, cli):
    _images(tmp_path / "ds" / "c", ["a.png"])
    cli("import", tmp_path / "ds", "--db", "p.db", cwd=tmp_path)
    r = cli("label", "²", "c", "--db", "p.db", cwd=tmp_path)
    assert (r.rc, r.err) == (2, "inspector: error: no image '²' in this project (give an id or a path relative to the "
                                "dataset root)\n")


def test_class_names_that_differ_only_in_case_are_flagged_and_merged(tmp_path, cli):
    from core.store import open_project
    from core.store.classes import class_names
    from core.store.labels import undo

    root = tmp_path / "ds"
    _images(root / "GOOD", ["0.png", "1.png"])
    _images(root / "good", ["2.png", "3.png", "4.png"], seed=1)
    _images(root / "scratch", ["5.png"], seed=2)
    r = cli("import", root, "--db", "p.db", cwd=tmp_path)
    warning = ("warning: classes 'GOOD' and 'good' differ only in case or spacing; to make them one: "
               "inspector classes merge GOOD good --db p.db")
    assert warning in r.out.splitlines(), r
    r = cli("classes", "list", "--db", "p.db", cwd=tmp_path)
    assert r.out.splitlines() == [
        "       2  'GOOD'  (looks like another class)", "       3  'good'  (looks like another class)",
        "       1  'scratch'", warning.replace("warning: classes", "warning:"),
    ]
    r = cli("classes", "merge", "GOOD", "good", "--db", "p.db", "--user", "ann", cwd=tmp_path)
    assert r.rc == 0 and r.out.startswith("merged class 'GOOD' into 'good': 2 images relabelled (label action ")
    history = cli("history", "GOOD/0.png", "--db", "p.db", cwd=tmp_path).out.splitlines()
    assert history[0] == "GOOD/0.png (id 1): now good, version 2"
    assert history[-1].split()[2:] == ["ann", "bulk", "GOOD", "->", "good"]
    assert cli("classes", "list", "--db", "p.db", cwd=tmp_path).out.splitlines() == ["       5  'good'",
                                                                                      "       1  'scratch'"]
    # A re-import that still says GOOD (the folder is still there) files new images under good.
    _images(root / "GOOD", ["9.png"], seed=3)
    r = cli("import", root, "--db", "p.db", cwd=tmp_path)
    assert "1 new" in r.out and "warning" not in r.out and "classes added" not in r.out, r
    assert cli("history", "GOOD/9.png", "--db", "p.db", cwd=tmp_path).out.splitlines()[0] == \
        "GOOD/9.png (id 7): now good, version 1"
    # Undone like any bulk relabel: the images and the class come back.
    with open_project(tmp_path / "p.db", create=False) as project:
        with project.session() as s:
            undone = undo(s, user="ann")
        with project.session() as s:
            names = class_names(s)
    assert len(undone.changed) == 2 and names == ["GOOD", "good", "scratch"]
    r = cli("classes", "merge", "good", "good", "--db", "p.db", cwd=tmp_path)
    assert (r.rc, r.err) == (2, "inspector: error: cannot merge class 'good' into itself\n")
    r = cli("classes", "merge", "Good", "good", "--db", "p.db", cwd=tmp_path)
    assert (r.rc, r.err) == (2, "inspector: error: unknown class 'Good'; known classes: GOOD, good, scratch\n")


def test_header_less_label_lists(tmp_path, cli):
    _images(tmp_path / "imgs", ["a.png", "b.png", "c d.png"])
    (tmp_path / "labels.txt").write_text("imgs/a.png 0\nimgs/b.png 1\n")
    r = cli("import", "labels.txt", "--db", "p.db", cwd=tmp_path)
    assert (r.rc, r.out) == (2, "")
    assert r.err == ("inspector: error: labels.txt row 1: 'imgs/a.png 0' looks like an image line, not a header; for a "
                     "list without a header (path, then label, separated by spaces or tabs) use --format txt "
                     "(--path-column 1 --label-column 2 by default), or add a first line 'path,label' to read it as CSV\n")
    assert not (tmp_path / "p.db").exists()
    r = cli("import", "labels.txt", "--db", "p.db", "--format", "txt", cwd=tmp_path)
    assert r.rc == 0 and r.out.splitlines()[0] == "imported txt dataset into p.db" and "classes added: 0, 1" in r.out
    # Tabs between the columns: a path may hold spaces; a header line is recognised and skipped.
    (tmp_path / "split.txt").write_text("file\tsplit\tclass\n# comment\nimgs/c d.png\ttest\tcrack\n")
    r = cli("import", "split.txt", "--db", "q.db", "--format", "txt", "--split-column", "2", "--label-column", "3",
            cwd=tmp_path)
    assert r.rc == 0 and "classes added: crack" in r.out, r
    for text, args, message in [
        ("imgs/a.png 0\nimgs/b.png 1 extra\n", [], "bad.txt line 2: has 3 fields, line 1 has 2 (a path with spaces "
                                                   "needs tabs between the columns, or a CSV manifest)"),
        ("imgs/a.png 0\n", ["--label-column", "3"], "bad.txt line 1: --label-column 3, but the lines have 2 field(s)"),
        ("imgs/a.png 0\n", ["--label-column", "two"], "--label-column for --format txt is a column number (1 = the "
                                                      "first), not 'two'"),
        ("imgs/nope.png 0\n", [], "bad.txt line 1: file not found: 'imgs/nope.png' (looked in " + str(tmp_path) + ")"),
    ]:
        (tmp_path / "bad.txt").write_text(text)
        r = cli("import", "bad.txt", "--db", "r.db", "--format", "txt", *args, cwd=tmp_path)
        assert (r.rc, r.err) == (2, f"inspector: error: {message}\n"), r


def test_manifests_naming_things_that_are_not_files(tmp_path, cli):
    _images(tmp_path / "imgs", ["a.png"])
    os.mkfifo(tmp_path / "imgs" / "pipe.png")
    os.symlink("/dev/zero", tmp_path / "imgs" / "zero.png")
    cases = {
        "path,label\nimgs/a.png,good\nimgs/pipe.png,bad\n":
            "m.csv row 3: 'imgs/pipe.png' is not a file: it is a named pipe (FIFO)",
        "path,label\nimgs/zero.png,bad\n":
            f"m.csv row 2: 'imgs/zero.png' is a symlink that leads outside the root {tmp_path}",
        "path,label\n/etc/hostname,bad\n": f"m.csv row 2: absolute path '/etc/hostname' is outside the root {tmp_path}",
    }
    for text, message in cases.items():
        (tmp_path / "m.csv").write_text(text)
        r = cli("import", "m.csv", "--db", "p.db", cwd=tmp_path, timeout=60)
        assert (r.rc, r.out, r.err) == (2, "", f"inspector: error: {message}\n"), r
    assert not (tmp_path / "p.db").exists()
