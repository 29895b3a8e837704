"""A shared project read from where each workstation mounts the images (core.store.root_map,
usecases.shared_roots, `inspector roots`): real project files and image files in tmp_path, one
settings folder per "workstation" through INSPECTOR_CONFIG_DIR."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import make_url, select

from app.cli import main
from core.errors import InspectorError
from core.store.datasets import hashed_sample
from core.store.export import export_csv
from core.store.file_problems import file_problems
from core.store.ingest import import_scan
from core.store.project import open_project
from core.store.queries import all_images, get_image
from core.store.root_map import CONFIG_ENV, config_dir, path_mapper, roots_file, save_mapping, url_key
from core.store.schema import SnapshotRow
from core.store.snapshots import take_snapshot
from support.synthetic_datasets import import_folder, write_parts
from usecases.shared_roots import list_roots, set_root, unset_root

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def workstation(tmp_path, monkeypatch):
    """workstation(name): this process now uses that workstation's settings folder."""
    def use(name: str) -> Path:
        folder = tmp_path / "settings" / name
        monkeypatch.setenv(CONFIG_ENV, str(folder))
        return folder

    use("a")
    return use


@pytest.fixture
def shared(tmp_path, workstation):
    """A project imported from `share` (its stored root), with two copies of the images standing for
    the share mounted on two workstations; 6 labelled images and one unreadable file."""
    share = tmp_path / "share"
    write_parts(share, n=6)
    (share / "good" / "broken.png").write_bytes(b"\x89PNG not really")
    project = import_folder(tmp_path / "p.db", share)
    for mount in ("mnt_a", "mnt_b"):
        shutil.copytree(share, tmp_path / mount)
    yield project, share
    project.close()


def test_set_maps_every_absolute_path_to_the_local_folder(shared, tmp_path):
    project, share = shared
    mnt = tmp_path / "mnt_a"
    done = set_root(project, 1, mnt)  # the project is open already: the mapping applies at once
    assert (done.sampled, done.problem, done.local, done.settings) == (7, None, str(mnt), roots_file())

    with project.session() as s:
        records = all_images(s)
        assert records and all(r.abs_path == str(mnt / r.rel_path) for r in records)
        assert get_image(s, str(mnt / "good" / "good_00.png")).rel_path == "good/good_00.png"
        assert get_image(s, str(share / "good" / "good_00.png")).rel_path == "good/good_00.png"  # stored name too
        assert [(p.root, p.rel_path) for p in file_problems(s)] == [(str(mnt), "good/broken.png")]
        export_csv(s, tmp_path / "labels.csv")
    exported = (tmp_path / "labels.csv").read_text()
    assert str(mnt / "good" / "good_00.png") in exported and str(share) not in exported

    with project.session() as s:
        snap = take_snapshot(s)
        stored = list(s.scalars(select(SnapshotRow.abs_path).where(SnapshotRow.snapshot_id == snap.id)))
    # The snapshot keeps the project's names; what a job gets from it is this workstation's paths.
    assert snap.rows and all(r.abs_path.startswith(str(mnt) + os.sep) for r in snap.rows)
    assert all(p.startswith(str(share) + os.sep) for p in stored)


def test_a_folder_that_is_not_the_dataset_is_refused_by_name(shared, tmp_path):
    project, _share = shared
    mnt = tmp_path / "mnt_a"
    (mnt / "scratch" / "scratch_01.png").write_bytes((mnt / "good" / "good_00.png").read_bytes())
    with pytest.raises(InspectorError, match=r"mnt_a does not hold this dataset: scratch/scratch_01.png differs "
                                             r"from the project's copy; nothing saved \(--force maps it anyway\)"):
        set_root(project, 1, mnt)
    assert not roots_file().exists()

    (mnt / "good" / "good_00.png").unlink()
    with pytest.raises(InspectorError, match="good/good_00.png is missing"):
        set_root(project, 1, mnt)
    with pytest.raises(InspectorError, match="not a folder"):
        set_root(project, 1, tmp_path / "not_mounted")

    forced = set_root(project, 1, mnt, force=True)
    assert forced.problem is not None and "good/good_00.png is missing" in forced.problem
    with project.session() as s:
        assert all(r.abs_path.startswith(str(mnt)) for r in all_images(s))


def test_unset_goes_back_to_the_stored_root(shared, tmp_path):
    project, share = shared
    set_root(project, str(share), tmp_path / "mnt_a")  # by stored root this time
    assert unset_root(project, 1) == (str(share), True)
    assert unset_root(project, 1) == (str(share), False)
    with project.session() as s:
        assert all(r.abs_path == str(share / r.rel_path) for r in all_images(s))
    assert json.loads(roots_file().read_text())["projects"] == {}


def test_two_workstations_share_rows_and_read_their_own_folders(shared, tmp_path, workstation):
    project, _share = shared
    set_root(project, 1, tmp_path / "mnt_a")
    workstation("b")
    set_root(project, 1, tmp_path / "mnt_b")

    def seen() -> list[tuple]:
        with open_project(tmp_path / "p.db", create=False) as p, p.session() as s:
            return [(r.id, r.rel_path, r.label, r.content_hash, r.abs_path) for r in all_images(s)]

    on_b = seen()
    workstation("a")
    on_a = seen()
    assert [r[:4] for r in on_a] == [r[:4] for r in on_b]
    assert all(a[4] == str(tmp_path / "mnt_a" / a[1]) and b[4] == str(tmp_path / "mnt_b" / b[1])
               for a, b in zip(on_a, on_b))
    workstation("c")  # a third one, with no mapping, reads the stored root
    assert all(r[4] == str(tmp_path / "share" / r[1]) for r in seen())


def test_a_dataset_without_hashes_is_mapped_with_a_note(project, tmp_path, make_scan, capsys):
    # `project` is each backend's: the mapping is keyed on the project as its engine names it.
    (tmp_path / "elsewhere").mkdir()
    with project.session() as s:
        import_scan(s, make_scan(tmp_path / "empty", [], classes=[]))
    done = set_root(project, 1, tmp_path / "elsewhere")
    assert (done.sampled, done.problem) == (0, None)
    assert [(r.dataset_id, r.local, r.reachable) for r in list_roots(project)] == [(1, str(tmp_path / "elsewhere"), True)]

    db = tmp_path / "p.db"
    with open_project(db) as p, p.session() as s:
        import_scan(s, make_scan(tmp_path / "empty", [], classes=[]))
    assert main(["roots", "--db", str(db), "set", "1", str(tmp_path / "elsewhere")]) == 0
    assert "no images with content hashes to compare; mapping saved unchecked" in capsys.readouterr().out


def test_the_project_key_is_the_file_or_the_url_without_its_password(tmp_path):
    assert url_key(make_url(f"sqlite:///{tmp_path / 'p.db'}")) == str(tmp_path / "p.db")
    assert url_key(make_url("postgresql+psycopg://anna:secret@db.local:5433/line3")) == \
        "postgresql+psycopg://anna@db.local:5433/line3"


def test_the_sample_is_spread_over_the_dataset_and_the_same_every_time(tmp_path, workstation):
    write_parts(tmp_path / "data", classes=("good", "scratch", "spot"), n=30)
    with import_folder(tmp_path / "p.db", tmp_path / "data") as project, project.session() as s:
        first = hashed_sample(s, 1, 8)
        assert first == hashed_sample(s, 1, 8) and len({r for r, _ in first}) == 8
        assert {r.split("/")[0] for r, _ in first} == {"good", "scratch", "spot"}
        assert len(hashed_sample(s, 1, 100)) == 30


def test_cli_list_set_unset(tmp_path, workstation, capsys):
    share = tmp_path / "share"
    write_parts(share, n=4)
    db = str(tmp_path / "p.db")
    assert main(["import", str(share), "--db", db]) == 0
    mnt = tmp_path / "mnt"
    share.rename(mnt)  # this workstation mounts the storage elsewhere: the stored root is not here
    capsys.readouterr()

    assert main(["roots", "--db", db, "list"]) == 0
    out = capsys.readouterr().out
    assert f"   1  {share} (read as stored)  NOT REACHABLE" in out
    assert f"inspector roots --db {db} set 1 LOCAL_PATH" in out

    assert main(["roots", "set", "1", str(mnt), "--db", db]) == 0  # --db after the action works too
    out = capsys.readouterr().out
    assert "checked 4 images by content hash: all match" in out and f"{share} -> {mnt} on this workstation" in out
    assert main(["roots", "list", "--db", db]) == 0
    assert f"   1  {share} -> {mnt}  reachable" in capsys.readouterr().out

    other = tmp_path / "other"
    write_parts(other, n=4, seed=1)
    assert main(["roots", "--db", db, "set", str(share), str(other)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{other} does not hold this dataset: good/good_00.png differs" in err
    assert main(["roots", "--db", db, "set", str(share), str(other), "--force"]) == 0
    assert "warning:" in capsys.readouterr().out

    assert main(["roots", "--db", db, "unset", "1"]) == 0
    assert "read from the stored root again" in capsys.readouterr().out
    assert main(["roots", "--db", db, "unset", "7"]) == 2
    assert "no dataset '7'" in capsys.readouterr().err
    assert main(["roots", "list"]) == 2
    assert "--db PROJECT is required" in capsys.readouterr().err


def test_cli_in_a_real_process_uses_the_settings_folder_of_its_environment(shared, tmp_path):
    project, _share = shared
    settings = tmp_path / "settings" / "proc"
    env = dict(os.environ, PYTHONPATH=str(REPO), **{CONFIG_ENV: str(settings)})
    r = subprocess.run([sys.executable, "-m", "app", "roots", "--db", str(project.path), "set", "1",
                        str(tmp_path / "mnt_b")], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads((settings / "roots.json").read_text())["projects"] == {
        str(project.path): {str(tmp_path / "share"): str(tmp_path / "mnt_b")}}
    assert not roots_file().exists()  # this test process's workstation is untouched


def test_the_settings_file_is_replaced_atomically(shared, tmp_path, monkeypatch):
    project, _share = shared
    set_root(project, 1, tmp_path / "mnt_a")
    before = roots_file().read_bytes()

    def no_space(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("core.atomic.os.replace", no_space)
    with pytest.raises(InspectorError, match=r"roots.json: cannot write the dataset roots settings \(No space left"):
        set_root(project, 1, tmp_path / "mnt_b")
    assert roots_file().read_bytes() == before
    assert os.listdir(roots_file().parent) == ["roots.json"]  # no temp file left behind


@pytest.mark.parametrize("text, why", [("{bad", "Expecting property name"), ("[]", "expected {"),
                                       ('{"version": 9, "projects": {}}', "version 9"),
                                       ('{"version": 1, "projects": {"p": {"/r": 3}}}', "not a map")])
def test_a_damaged_settings_file_is_named_not_a_traceback(shared, tmp_path, capsys, text, why):
    project, _share = shared
    roots_file().parent.mkdir(parents=True)
    roots_file().write_text(text)
    with pytest.raises(InspectorError, match=f"{roots_file()}: damaged dataset roots settings") as e:
        with project.session() as s:
            all_images(s)
    assert why in str(e.value) and "fix or delete the file" in str(e.value)
    assert main(["roots", "--db", str(project.path), "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"inspector: error: {roots_file()}: damaged") and "Traceback" not in err


def test_path_mapper_moves_only_paths_under_a_mapped_root():
    local = path_mapper({"/data": "/mnt/d", "/data/line3": "/Volumes/line3"})
    assert local("/data/line3/a/b.png") == "/Volumes/line3/a/b.png"  # the longer root wins
    assert local("/data/x.png") == "/mnt/d/x.png"
    assert local("/data2/x.png") == "/data2/x.png" and local("/elsewhere/x.png") == "/elsewhere/x.png"
    assert path_mapper({})("/data/x.png") == "/data/x.png"


def test_settings_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_dir() == tmp_path / "xdg" / "inspector"
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "mine"))
    assert save_mapping("k", "/r", "/l") == tmp_path / "mine" / "roots.json"


def test_importing_the_local_mount_again_updates_the_shared_dataset(shared, tmp_path):
    """Re-importing from this workstation's mount is the same dataset (its stored root), not a second one."""
    from core.data.scan import scan_dataset

    project, share = shared
    mnt = tmp_path / "mnt_a"
    set_root(project, 1, mnt)
    with project.session(write=True) as s:
        report = import_scan(s, scan_dataset(mnt), user="ann")
    assert (report.dataset_id, report.new_dataset, report.root) == (1, False, str(share))
    with project.session() as s:
        from core.store.datasets import list_datasets
        assert [d.root for d in list_datasets(s)] == [str(share)]
