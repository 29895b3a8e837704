"""The demo: synthetic inspection images, a small model for them, and a project holding both with
the model's predictions (`inspector demo`, the welcome screen's demo button).

The model is the checkpoint shipped in assets/ when it is there (copied beside the demo); it is
trained here, on the project's labels, when it is missing or other epochs / input size are asked for."""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.progress import Reporter, silent
from usecases.dataset_import import import_dataset
from usecases.prediction import predict, register_checkpoint

if TYPE_CHECKING:
    from core.store.project import Project

DEMO_DB = "demo.db"
DEMO_DATA = "data"
DEMO_MODEL = "models/demo_aan_s.safetensors"
DEMO_NOISE = 0.06  # a few planted label errors, so that the review ranking has something to find
# Rebuilt by scripts/make_demo_model.py (its provenance says how); trained on generated images that
# the demo data does not contain, so the demo's test split is held out from it.
SHIPPED_DEMO_MODEL = Path(__file__).resolve().parents[1] / "assets" / "demo_aan_s.safetensors"


@dataclass(frozen=True, slots=True)
class DemoData:
    root: Path  # the category folder: what to import
    n: int
    n_train: int
    flipped: int  # training labels planted wrong
    seconds: float


@dataclass(frozen=True, slots=True)
class TrainedDemo:
    path: Path
    model_id: int
    provenance: dict[str, Any]


def write_demo_dataset(out_dir: str | os.PathLike, n: int, noise: float = 0.0, seed: int = 0, *,
                       overwrite: bool = False, progress: Reporter | None = None) -> DemoData:
    from core.data.demo import make_demo_dataset, plan_demo_dataset

    plan = plan_demo_dataset(n, noise, seed)  # validates before anything is written
    start = time.perf_counter()
    root = make_demo_dataset(out_dir, n, noise, seed, progress=progress, overwrite=overwrite)
    return DemoData(root, n, sum(it.split == "train" for it in plan),
                    sum(it.true_label != it.given_label for it in plan), time.perf_counter() - start)


def train_demo(project: Project, out: str | os.PathLike, *, epochs: int | None = None, input_size: int | None = None,
               arch: str = "aan_s", pool: str | None = None, from_scratch: bool = False,
               progress: Reporter | None = None) -> TrainedDemo:
    """Train a first model on the project's labels (the test split held out and scored) in this
    process, and register it as a model version. Like `finetune --base ARCH`, an architecture with a
    shipped starting point starts from it unless `from_scratch` (a few hundred images are not
    enough to learn features from random weights: training/README.md)."""
    from core.model.checkpoint import read_metadata

    path = _train(project, Path(out), progress or silent(), epochs=epochs, input_size=input_size, arch=arch, pool=pool,
                  from_scratch=from_scratch)
    return TrainedDemo(path, register_checkpoint(project, path), read_metadata(path).provenance)


def prepare_demo(folder: str | os.PathLike, user: str, *, n: int | None = None, epochs: int | None = None,
                 input_size: int | None = None, progress: Reporter | None = None) -> Path:
    """Make whatever of the demo is missing (data, project, model, predictions); returns the project path.

    Idempotent: a second run finds everything and returns at once.
    """
    from core.data.demo import CATEGORY, make_demo_dataset
    from core.store.model_versions import find_model_version
    from core.store.project import open_project
    from core.store.queries import count_images

    progress = progress or silent()
    root = Path(folder).expanduser().absolute()
    root.mkdir(parents=True, exist_ok=True)
    data, db, ckpt = root / DEMO_DATA, root / DEMO_DB, root / DEMO_MODEL
    images = data / CATEGORY
    if not images.exists():
        make_demo_dataset(data, noise=DEMO_NOISE, progress=progress, **({"n": n} if n else {}))
    progress.check()
    with open_project(db) as project:
        with project.session() as s:
            empty = count_images(s) == 0
        if empty:
            import_dataset(db, images, user=user, progress=progress)
        progress.check()
        with project.session() as s:
            known = find_model_version(s, ckpt)
        if known is None:
            if not ckpt.exists():
                ckpt.parent.mkdir(parents=True, exist_ok=True)
                if SHIPPED_DEMO_MODEL.exists() and epochs is None and input_size is None:
                    progress.progress(0, 0, "using the demo model shipped with Inspector")
                    shutil.copyfile(SHIPPED_DEMO_MODEL, ckpt)
                else:
                    _train(project, ckpt, progress, epochs=epochs, input_size=input_size)
            model_id = register_checkpoint(project, ckpt, name="demo")
        else:
            model_id = known.id
        progress.check()
        predict(project, model_id, num_workers=0, rank=True, progress=progress)
    return db


def _train(project: Project, out: Path, progress: Reporter, *, epochs: int | None = None,
           input_size: int | None = None, arch: str = "aan_s", pool: str | None = None,
           from_scratch: bool = False) -> Path:
    """training.demo_model's recipe, with its own defaults for whatever is not given, from the
    architecture's shipped start unless `from_scratch`."""
    from training import demo_model
    from training.pretrain import resolve_base

    def step(done: int, total: int, message: str) -> None:
        progress.progress(done, total, f"training the demo model: {message}")
        progress.check()

    cfg = demo_model.demo_config(arch=resolve_base(arch, from_scratch=from_scratch), pool=pool,
                                 epochs=epochs or demo_model.EPOCHS,
                                 input_size=input_size or demo_model.INPUT_SIZE)
    return Path(demo_model.train_project_model(project, out, cfg=cfg, reporter=Reporter(step)))
