"""GUI test fixtures: settings in a temp folder, a real project made from generated images with a
tiny aan_s model and its predictions, the real main window, and a check that no test leaves a
worker thread running."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

CLASSES = ("good", "scratch", "spot")


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


def _write_dataset(root: Path, per_class: int = 8, size: int = 64) -> Path:
    """MVTec-style tree: good images are noise; defects are a bright line or a dark disc, with masks."""
    from PIL import Image

    rng = np.random.default_rng(0)
    cat = root / "part"
    for cls in CLASSES:
        for i in range(per_class):
            split = "train" if i < per_class - 2 else "test"
            img = (rng.normal(128, 12, (size, size))).clip(0, 255).astype(np.uint8)
            mask = np.zeros((size, size), np.uint8)
            if cls == "scratch":
                r = rng.integers(8, size - 8)
                mask[r - 1:r + 2, 6:size - 6] = 255
                img[mask > 0] = 240
            elif cls == "spot":
                cy, cx = rng.integers(16, size - 16, 2)
                yy, xx = np.mgrid[:size, :size]
                mask[(yy - cy) ** 2 + (xx - cx) ** 2 < 36] = 255
                img[mask > 0] = 20
            d = cat / split / cls
            d.mkdir(parents=True, exist_ok=True)
            name = f"{cls}_{i:03d}"
            Image.fromarray(img).save(d / f"{name}.png")
            if cls != "good":
                g = cat / "ground_truth" / cls
                g.mkdir(parents=True, exist_ok=True)
                Image.fromarray(mask).save(g / f"{name}_mask.png")
    return root


@pytest.fixture(scope="session")
def project_template(tmp_path_factory) -> Path:
    """A project file with 24 images, a tiny aan_s (input 64) and its predictions; copied per test."""
    import torch

    from core.data.scan import scan_dataset
    from core.inference.predict import predict_project
    from core.inference.review import review_model
    from core.model import create_model
    from core.model.checkpoint import CheckpointMeta, save_checkpoint
    from core.store.ingest import import_scan
    from core.store.model_versions import register_model_version
    from core.store.project import open_project

    base = tmp_path_factory.mktemp("project")
    data = _write_dataset(base / "data")
    db = base / "template.db"
    torch.manual_seed(0)
    model = create_model("aan_s", num_classes=len(CLASSES), in_chans=1)
    meta = CheckpointMeta(arch="aan_s", class_names=list(CLASSES), in_chans=1, input_size=64, mean=(0.5,), std=(0.25,))
    ckpt = save_checkpoint(base / "tiny.safetensors", model, meta)
    with open_project(db) as project:
        with project.session() as s:
            import_scan(s, scan_dataset(data), user="importer")
        with project.session() as s:
            model_id = register_model_version(s, str(ckpt), meta, name="tiny")
        predict_project(project, model_id, device="cpu", num_workers=0)
        with project.session() as s:
            review_model(s, model_id, save=True)
    return db


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
    import torch
    from PIL import Image

    from core.data.scan import scan_dataset
    from core.model import create_model
    from core.model.checkpoint import CheckpointMeta, save_checkpoint
    from core.store.ingest import import_scan
    from core.store.model_versions import register_model_version
    from core.store.project import open_project

    base = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(1)
    for i in range(400):
        d = base / "data" / CLASSES[i % 3]
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (48, 48), dtype=np.uint8)).save(d / f"{i:04d}.png")
    torch.manual_seed(0)
    meta = CheckpointMeta(arch="aan_s", class_names=list(CLASSES), in_chans=1, input_size=64, mean=(0.5,), std=(0.25,))
    ckpt = save_checkpoint(base / "tiny.safetensors", create_model("aan_s", 3, in_chans=1), meta)
    with open_project(base / "big.db") as project:
        with project.session() as s:
            import_scan(s, scan_dataset(base / "data"), user="importer")
        with project.session() as s:
            model_id = register_model_version(s, str(ckpt), meta, name="tiny")
    return base / "big.db", model_id
