"""`inspector import / label / history / export` through app.cli.main, and once as a real process."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def dataset(tmp_path):
    """ImageFolder tree: good/0..2.png, scratch/0..1.png (scratch/1 = copy of good/0), good/broken.png."""
    root = tmp_path / "data"
    rng = np.random.default_rng(0)
    for cls, n in (("good", 3), ("scratch", 1)):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")
    (root / "scratch" / "1.png").write_bytes((root / "good" / "0.png").read_bytes())
    (root / "good" / "broken.png").write_bytes(b"\x89PNG not really")
    return root


def test_import_label_history_export(dataset, tmp_path, capsys):
    db = str(tmp_path / "p.db")
    assert main(["import", str(dataset), "--db", db, "--user", "imp"]) == 0
    out, err = capsys.readouterr()
    assert "6 new" in out and "1 unreadable" in out and "1 filed under different labels" in out
    assert "scanning 6/6" in err

    assert main(["import", str(dataset), "--db", db]) == 0
    assert "0 new, 0 changed, 6 unchanged" in capsys.readouterr().out

    assert main(["label", "--db", db, "good/1.png", "scratch", "--user", "ann"]) == 0
    assert "good/1.png: good -> scratch (version 2, by ann)" in capsys.readouterr().out
    assert main(["label", "--db", db, "good/1.png", "crack"]) == 2
    assert capsys.readouterr().err.strip() == "inspector: error: unknown class 'crack'; known classes: good, scratch"
    assert main(["label", "--db", db, "good/1.png", "good", "--expect-version", "1"]) == 2
    err = capsys.readouterr().err
    assert "changed by ann to scratch" in err and err.count("\n") == 1
    assert main(["label", "--db", db, "nope.png", "good"]) == 2
    assert "no image 'nope.png'" in capsys.readouterr().err

    assert main(["history", "--db", db, "good/1.png"]) == 0
    out = capsys.readouterr().out
    assert "now scratch, version 2" in out and "import  - -> good" in out and "manual  good -> scratch" in out

    csv_path, tree = tmp_path / "out" / "labels.csv", tmp_path / "tree"
    assert main(["export", "--db", db, "--out", str(csv_path), "--imagefolder", str(tree)]) == 0
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 6 and {r["path"]: r["label"] for r in rows}["good/1.png"] == "scratch"
    links = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*.png"))
    assert links == ["good/good__0.png", "good/good__2.png", "scratch/good__1.png",
                     "scratch/scratch__0.png", "scratch/scratch__1.png"]  # the unreadable file is left out
    assert os.readlink(tree / "scratch" / "good__1.png") == str(dataset.resolve() / "good" / "1.png")
    assert main(["export", "--db", db, "--imagefolder", str(tree)]) == 2  # not empty any more
    assert main(["export", "--db", db]) == 2


def test_import_csv_manifest_with_named_columns(dataset, tmp_path, capsys):
    manifest = tmp_path / "list.csv"
    manifest.write_text("file,defect,subset\ngood/0.png,ok,train\ngood/1.png,ok,val\nscratch/0.png,bad,train\n")
    db = str(tmp_path / "p.db")
    assert main(["import", str(manifest), "--db", db, "--format", "csv", "--root", str(dataset),
                 "--path-column", "file", "--label-column", "defect", "--split-column", "subset"]) == 0
    assert "3 new" in capsys.readouterr().out
    assert main(["history", "--db", db, "good/1.png", "--json"]) == 0
    assert '"new": "ok"' in capsys.readouterr().out


def test_user_errors_are_one_line(tmp_path, capsys):
    assert main(["label", "--db", str(tmp_path / "absent.db"), "1", "good"]) == 2
    assert capsys.readouterr().err == f"inspector: error: {tmp_path / 'absent.db'}: no such project file\n"
    assert main(["import", str(tmp_path / "nothing"), "--db", str(tmp_path / "p.db")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_help_of_every_store_command_describes_every_option(capsys):
    for cmd in ("import", "label", "history", "export"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        out = capsys.readouterr().out
        assert "--db" in out and "PROJECT" in out and "postgresql://" in out


def test_real_process_python_m_app(dataset, tmp_path):
    db = tmp_path / "p.db"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    run = lambda *args: subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,  # noqa: E731
                                       env=env, cwd=tmp_path, timeout=120)
    r = run("import", str(dataset), "--db", str(db))
    assert r.returncode == 0, r.stderr
    r = run("label", "--db", str(db), "1", "nope")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("inspector: error: unknown class 'nope'")
