"""GUI test fixtures: settings in a temp folder, a real project made from generated images
(support.synthetic_datasets) with a tiny aan_s model and its predictions, the real main window, and a check
that no test leaves a worker thread running."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support.synthetic_datasets import CLASSES, import_folder, last_as_test, tiny_checkpoint, write_parts

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session", autouse=True)
def _settings_in_tmp(tmp_path_factory):
    from app.settings import use_settings_dir

    use_settings_dir(tmp_path_factory.mktemp("qsettings"))


@pytest.fixture(autouse=True)
def no_running_workers(qapp):
    """Fails a test that leaves a worker thread running (after a short grace period)."""
    yield
    import shiboken6
    from PySide6.QtCore import QThreadPool

    import app.workers as workers

    leftovers = []
    for w in list(workers.instances):
        # A deleted Workers has no threads left: QThreadPool's destructor waits for its tasks.
        if shiboken6.isValid(w) and not w.wait(2000):
            leftovers.append(f"{w.running_threads()} thread(s): {[t.name for t in w.active]}")
    qapp.processEvents()
    assert QThreadPool.globalInstance().waitForDone(2000), "the global thread pool still runs tasks"
    assert not leftovers, "test left workers running: " + "; ".join(leftovers)
    import threading

    stray = [t.name for t in threading.enumerate()
             if t is not threading.main_thread() and not t.daemon and t.is_alive() and not t.name.startswith("Dummy")]
    assert not stray, f"test left Python threads running: {stray}"


@pytest.fixture(scope="session")
def project_template(tmp_path_factory) -> Path:
    """A project file with 24 images (an MVTec-style tree with defect masks), a tiny aan_s (input 64)
    and its predictions; copied per test."""
    from core.inference.predict import predict_project
    from core.inference.review import review_model
    from core.store.model_versions import register_model_version

    base = tmp_path_factory.mktemp("project")
    write_parts(base / "data", CLASSES, n=24, layout="mvtec", shape=(64, 64), split=last_as_test(2))
    ckpt, meta = tiny_checkpoint(base / "tiny.safetensors", CLASSES)
    with import_folder(base / "template.db", base / "data") as project:
        with project.session() as s:
            model_id = register_model_version(s, str(ckpt), meta, name="tiny")
        predict_project(project, model_id, device="cpu", num_workers=0)
        with project.session() as s:
            review_model(s, model_id, save=True)
    return base / "template.db"


@pytest.fixture
def project_path(project_template, tmp_path) -> Path:
    db = tmp_path / "project.db"
    shutil.copy(project_template, db)
    return db


@pytest.fixture
def window(qtbot, project_path):
    """The real main window with the test project open and the first query done."""
    from app.qt_main_window import QtMainWindow
    from app.settings import Settings

    settings = Settings()
    settings.user = "tester"
    win = QtMainWindow(settings)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    win.controller.open_project(project_path)
    qtbot.waitUntil(lambda: win.state.is_open and not win.browser.image_model.querying, timeout=15000)
    yield win
    win.shutdown()


def wait_idle(qtbot, win, timeout: int = 20000) -> None:
    qtbot.waitUntil(win.is_idle, timeout=timeout)


@pytest.fixture
def idle(qtbot):
    return lambda win, timeout=20000: wait_idle(qtbot, win, timeout)


@pytest.fixture(scope="session")
def big_project_template(tmp_path_factory) -> tuple[Path, int]:
    """400 tiny images and a registered model without predictions: (project file, model id)."""
    from core.store.model_versions import register_model_version

    base = tmp_path_factory.mktemp("big")
    write_parts(base / "data", CLASSES, n=400, seed=1)
    ckpt, meta = tiny_checkpoint(base / "tiny.safetensors", CLASSES)
    with import_folder(base / "big.db", base / "data") as project:
        with project.session() as s:
            model_id = register_model_version(s, str(ckpt), meta, name="tiny")
    return base / "big.db", model_id
