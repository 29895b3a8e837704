"""The demo: synthetic inspection images, a small model trained on them, and a project holding
both with the model's predictions (`inspector demo`, the welcome screen's demo button)."""
from __future__ import annotations

import os
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
               seconds_budget: float | None = None, arch: str | None = None,
               progress: Reporter | None = None) -> TrainedDemo:
    """Train a small first model on the project's labels and register it as a model version."""
    from core.model.checkpoint import read_metadata

    path = _train(project, Path(out), progress or silent(), epochs=epochs, input_size=input_size,
                  seconds_budget=seconds_budget, arch=arch)
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
                _train(project, ckpt, progress, epochs=epochs, input_size=input_size, from_records=True)
            model_id = register_checkpoint(project, ckpt, name="demo")
        else:
            model_id = known.id
        progress.check()
        predict(project, model_id, num_workers=0, rank=True, progress=progress)
    return db


def _train(project: Project, out: Path, progress: Reporter, *, from_records: bool = False, **options: Any) -> Path:
    """training.demo_train with the trainer's own defaults for whatever is not given."""
    from training.demo_train import train_demo_model

    def step(message: str, fraction: float) -> None:  # the trainer's own progress signature
        progress.fraction(fraction, f"training the demo model: {message}")
        progress.check()

    given = {k: v for k, v in options.items() if v is not None}
    source = _labelled_items(project) if from_records else project
    return Path(train_demo_model(source, out, progress=step, **given))


def _labelled_items(project: Project) -> list[tuple[str, str, str]]:
    """(path, label, split) of every readable, labelled image, for the demo trainer."""
    from training.label_scan import labelled_images

    with project.session() as s:
        return [(r.abs_path, r.label, r.split or "train") for r in labelled_images(s)]
