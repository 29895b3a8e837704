"""`inspector predict`, `review`, `heads` end to end on a real project file (in-process main())."""
import json
from pathlib import Path


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


def test_label_scan_puts_the_wrong_label_first_and_writes_nothing(small_project, capsys):
    from core.store.labels import set_label
    from core.store.queries import ImageFilter, count_images, query_images

    project, _, _, _ = small_project
    with project.session() as s:
        target = next(r for r in query_images(s, ImageFilter(), sort="name") if r.rel_path == "scratch/scratch_02.png")
        set_label(s, target.id, "good", user="ann")  # a bright line labelled good: the planted error
        before = count_images(s)
    db = str(project.path)
    assert main(["label-scan", "--db", db, "--base", "aan_s", "--epochs", "60", "--input-size", "64", "--json",
                 "--limit", "0"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["total"] == len(got["items"]) >= 1
    first = got["items"][0]
    assert first["rel_path"] == "scratch/scratch_02.png" and first["label"] == "good" and first["predicted"] == "scratch"
    assert {i["rel_path"] for i in got["items"]} <= {f"{c}/{c}_{k:02d}.png" for c in ("good", "scratch") for k in range(6)}
    with project.session() as s:
        from core.store.model_versions import list_model_versions
        from core.store.snapshots import list_snapshots

        assert count_images(s) == before and len(list_model_versions(s)) == 1 and list_snapshots(s) == []


def test_label_scan_starts_from_the_newest_model_version_whose_file_exists(small_project, tmp_path):
    from core.store.model_versions import list_model_versions, register_model_version
    from core.model.checkpoint import read_metadata
    from training.label_scan import default_base, scan_config

    project, _, _, _ = small_project
    with project.session() as s:
        first = list_model_versions(s)[-1]
        gone = tmp_path / "deleted.safetensors"
        gone.write_bytes(Path(first.path).read_bytes())
        register_model_version(s, gone, read_metadata(gone))
    gone.unlink()  # newest, but its file is gone: the one before it is used
    assert default_base(project) == first.path
    assert scan_config(base=first.path).schedule.epochs == 6 and scan_config(base="aan_s").schedule.epochs == 40


def test_label_scan_needs_two_classes(small_project, capsys):
    from core.store.labels import bulk_set_labels
    from core.store.queries import ImageFilter, query_images

    project, _, _, _ = small_project
    with project.session() as s:
        bulk_set_labels(s, [r.id for r in query_images(s, ImageFilter(), sort="name")], "good", user="ann")
    assert main(["label-scan", "--db", str(project.path), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "at least two classes" in err and len(err.strip().splitlines()) == 1
