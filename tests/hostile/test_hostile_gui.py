"""The GUI with hostile input: the import summary names every file that did not come in; a damaged or
foreign project is one line in the status bar (and a foreign file stays as it was); a cancelled job
that saved its state has a Resume button that resubmits it."""
from __future__ import annotations

import json
import os
import sqlite3

import pytest
from conftest import sha256
from trees import make_hostile_tree, png_bytes

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _settings(tmp_path_factory):
    from app.settings import use_settings_dir

    use_settings_dir(tmp_path_factory.mktemp("qsettings"))


@pytest.fixture
def win(qtbot):
    from app.qt_main_window import QtMainWindow
    from app.settings import Settings

    w = QtMainWindow(Settings())
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()


def test_import_summary_lists_every_file_that_did_not_come_in(qtbot, win, tmp_path):
    tree = make_hostile_tree(tmp_path)
    try:
        win.controller.import_dataset(str(tree.root), str(tmp_path / "p.db"))
        qtbot.waitUntil(lambda: getattr(win, "import_summary", None) is not None and win.state.is_open
                        and win.is_idle(), timeout=60000)
    finally:
        tree.close()
    box = win.import_summary
    assert box.isVisible() and box.windowTitle() == "Import finished"
    assert box.text().splitlines()[0].startswith(f"{tree.root}: ")
    assert box.informativeText().startswith(f"{len(tree.unreadable)} unreadable (imported, flagged unreadable), "
                                            f"{len(tree.skipped)} skipped (not imported). The details list")
    details = box.detailedText().splitlines()
    assert details == [f"unreadable  {p}: {r}" for p, r in sorted(tree.unreadable.items())] + \
                      [f"skipped     {p}: {r}" for p, r in sorted(tree.skipped.items())]
    box.close()


def _damaged_project(tmp_path):
    from core.store import open_project

    db = tmp_path / "damaged.db"
    open_project(db).close()
    c = sqlite3.connect(db)
    c.execute("DROP TABLE label_event")
    c.close()
    return db


def test_damaged_and_foreign_projects_are_one_line_in_the_status_bar(qtbot, win, tmp_path, caplog):
    db = _damaged_project(tmp_path)
    with qtbot.waitSignal(win.workers.failed, timeout=20000):
        win.controller.open_project(db)
    assert win.task_status.errors[-1][1:] == (
        "Open project", f"{db}: the project file is damaged (table label_event is missing); `inspector doctor --db "
                        f"{db}` checks it and can export its labels to a new project")
    foreign = tmp_path / "other.sqlite"
    c = sqlite3.connect(foreign)
    c.execute("CREATE TABLE customers (name TEXT)")
    c.close()
    digest = sha256(foreign)
    with qtbot.waitSignal(win.workers.failed, timeout=20000):
        win.controller.open_project(foreign)
    assert win.task_status.errors[-1][2] == (f"{foreign}: not an Inspector project (an SQLite database with tables "
                                             "customers); it was not changed")
    assert sha256(foreign) == digest and not win.state.is_open
    assert "Traceback" not in caplog.text


def test_resume_button_resubmits_a_cancelled_job(qtbot, win, tmp_path, monkeypatch):
    from core.data.scan import scan_dataset
    from core.store import open_project
    from core.store.ingest import import_scan
    from core.store.jobs import create_job, update_job

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    for i in range(4):
        (tmp_path / "ds" / "c").mkdir(parents=True, exist_ok=True)
        (tmp_path / "ds" / "c" / f"{i}.png").write_bytes(png_bytes(i))
    db = tmp_path / "p.db"
    job_dir = tmp_path / "p.jobs" / "1"
    (job_dir / "out").mkdir(parents=True)
    (job_dir / "out" / "resume.pt").write_bytes(b"saved")
    (job_dir / "out" / "status.json").write_text(json.dumps({"state": "preempted", "epoch": 2, "step_in_epoch": 1}))
    (job_dir / "job.json").write_text("{}")  # the resubmitted training refuses it and ends at once
    with open_project(db) as project, project.session() as s:
        import_scan(s, scan_dataset(tmp_path / "ds"))
        job = create_job(s, backend="local", profile="local-cpu", workdir=str(job_dir),
                         config={"finetune": {"epochs": 5},
                                 "profile": {"name": "local-cpu", "backend": "local", "gpus": 0, "nproc": 1}})
        update_job(s, job.id, external_id="999999999", state="cancelled", error="stopped; resume state saved")
    win.controller.open_project(db)
    qtbot.waitUntil(lambda: win.state.is_open and win.workspace_built and win.jobs_panel.views and win.is_idle(), timeout=20000)
    panel = win.jobs_panel
    assert panel.resume_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert panel.resume_button.toolTip() == "Continue from epoch 3 of 5, step 1"
    panel.resume_button.click()
    # Resubmitted (a new process id), and what that run did is what the panel shows: here it refuses
    # the empty job.json at once, so the job ends failed, not "cancelled with its state saved".
    qtbot.waitUntil(lambda: panel.views[0].job.external_id != "999999999" and panel.views[0].job.finished,
                    timeout=120000)
    job = panel.views[0].job
    assert (job.state, job.error) == ("failed", "exit status 1"), job  # torchrun reports its worker failing
    assert "training.finetune: error: run.out_dir is required for a job" in job.log_tail
    assert panel.resume_button.isEnabled()  # its saved state is untouched: it can be resumed again
