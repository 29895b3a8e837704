"""`inspector predict`, `review`, `heads` end to end on a real project file (in-process main())."""
import json

from app.cli import main


def test_predict_review_heads(small_project, capsys):
    project, _, data, ckpt = small_project
    db = str(project.path)

    assert main(["predict", "--db", db, "--model", str(ckpt), "--device", "cpu", "--workers", "0"]) == 0
    out = capsys.readouterr()
    assert "12 predicted" in out.out and "12/12" in out.err
    assert main(["predict", "--db", db, "--model", str(ckpt), "--workers", "0"]) == 0
    assert "0 predicted, 12 already done" in capsys.readouterr().out

    assert main(["review", "--db", db, "--json", "--limit", "3"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["model_id"] == 1 and len(got["items"]) <= 3
    assert main(["review", "--db", db]) == 0
    assert "model 1" in capsys.readouterr().out

    assert main(["heads", "--db", db, "--model", str(ckpt), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["defect_images"] == 0 and len(got["heads"]) == 2 + 4  # aan_t: 2 + 4 heads
    assert main(["heads", "--db", db, "--model", str(ckpt)]) == 0
    assert "no images with defect masks" in capsys.readouterr().out


def test_user_errors_are_one_line(small_project, tmp_path, capsys):
    project, _, _, _ = small_project
    assert main(["predict", "--db", str(project.path), "--model", str(tmp_path / "missing.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("inspector: error:") and len(err.strip().splitlines()) == 1
    empty = tmp_path / "empty.db"
    from core.store import open_project

    open_project(empty).close()
    assert main(["review", "--db", str(empty)]) == 2
    assert "no model has predictions" in capsys.readouterr().err
