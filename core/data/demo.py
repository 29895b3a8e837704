"""The synthetic demo dataset: brushed metal plates with four kinds of defect, MVTec-style tree.

    <out_dir>/metal_plate/train/<class>/<NNNN>.png
    <out_dir>/metal_plate/test/<class>/<NNNN>.png
    <out_dir>/metal_plate/ground_truth/<class>/<NNNN>_mask.png   (every image that has a defect)
    <out_dir>/true_labels.csv    rel_path,true_label,given_label  (rel_path relative to metal_plate/)

Unlike real MVTec, defects appear in train too (training here is supervised, multi-class). File
numbers are shuffled across classes, so a name says nothing about its class, and are unique
across splits, so masks map one-to-one.

`noise` flips that fraction of the TRAINING labels: the file is written into a wrong class folder
(its mask, if it has a defect, follows it to ground_truth/<wrong class>/, because a mask describes
pixels, not the label). true_labels.csv lists every image; rows where true_label != given_label
are the planted label errors. Test labels are never flipped.

Same seed and arguments -> the same bytes.
"""
from __future__ import annotations

import csv
import io
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.data.synth import CLASSES, render_sample
from core.errors import InspectorError
from core.progress import Reporter, silent

__all__ = ["CATEGORY", "CLASSES", "DEFAULT_N", "DemoItem", "make_demo_dataset", "plan_demo_dataset"]

CATEGORY = "metal_plate"
DEFAULT_N = 500  # about 350 training images: a small model learns them in minutes on 2 CPU cores
IMAGE_SIZE = 224
TEST_FRACTION = 0.3
TRUE_LABELS = "true_labels.csv"
_CLASS_SHARE = {"good": 0.4, "scratch": 0.15, "crack": 0.15, "spot": 0.15, "contamination": 0.15}


@dataclass(frozen=True, slots=True)
class DemoItem:
    index: int  # also the file number and the image's own random stream
    true_label: str
    given_label: str
    split: str

    @property
    def stem(self) -> str:
        return f"{self.index:04d}"

    @property
    def rel_path(self) -> str:
        return f"{self.split}/{self.given_label}/{self.stem}.png"

    @property
    def mask_rel_path(self) -> str | None:
        return None if self.true_label == "good" else f"ground_truth/{self.given_label}/{self.stem}_mask.png"


def plan_demo_dataset(n: int = DEFAULT_N, noise: float = 0.0, seed: int = 0) -> list[DemoItem]:
    """Which image gets which class, split and given label; no pixels. Sorted by index."""
    _check(n, noise, seed)
    rng = np.random.default_rng([seed, 1])
    counts = _class_counts(n)
    items: list[tuple[str, str]] = []
    for cls in CLASSES:
        c = counts[cls]
        n_test = min(c - 1, max(1, round(TEST_FRACTION * c)))
        items += [(cls, "test")] * n_test + [(cls, "train")] * (c - n_test)
    order = rng.permutation(n)  # file numbers shuffled across classes
    plan = [DemoItem(int(order[i]), cls, cls, split) for i, (cls, split) in enumerate(items)]
    train = [i for i, it in enumerate(plan) if it.split == "train"]
    n_flip = round(noise * len(train))
    for i in rng.choice(train, size=n_flip, replace=False):
        it = plan[i]
        wrong = [c for c in CLASSES if c != it.true_label]
        plan[i] = DemoItem(it.index, it.true_label, wrong[int(rng.integers(len(wrong)))], it.split)
    return sorted(plan, key=lambda it: it.index)


def make_demo_dataset(
    out_dir: str | os.PathLike,
    n: int = DEFAULT_N,
    noise: float = 0.0,
    seed: int = 0,
    *,
    progress: Reporter | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    strength: float = 1.0,
) -> Path:
    """Write the dataset under `out_dir` and return the category folder (what to import).
    `strength` < 1: fainter, smaller defects (core.data.synth.render_sample)."""
    plan = plan_demo_dataset(n, noise, seed)
    out = Path(os.path.abspath(out_dir))
    target = out / CATEGORY
    if os.path.lexists(target) and not overwrite:
        raise InspectorError(f"{target} already exists; choose another folder or remove it")
    # Build in a hidden folder beside `out_dir` and move the finished tree in at the end: even a
    # killed run leaves nothing inside `out_dir` that a later run would take for a finished dataset.
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.demo-partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    seeds = np.random.SeedSequence([seed, 2]).spawn(n)
    try:
        tree = staging / CATEGORY
        for it in plan:
            (tree / it.split / it.given_label).mkdir(parents=True, exist_ok=True)
            if it.mask_rel_path:
                (tree / it.mask_rel_path).parent.mkdir(parents=True, exist_ok=True)

        def write(it: DemoItem) -> None:
            sample = render_sample(it.true_label, np.random.default_rng(seeds[it.index]), IMAGE_SIZE, strength)
            _save_png(tree / it.rel_path, sample.image)
            if it.mask_rel_path:
                _save_png(tree / it.mask_rel_path, sample.mask.astype(np.uint8) * 255)

        progress = progress or silent()
        progress.progress(0, n, f"making the demo images 0/{n}")
        with ThreadPoolExecutor(max_workers=workers or min(2, os.cpu_count() or 1)) as pool:
            for done, _ in enumerate(pool.map(write, plan), 1):
                progress.progress(done, n, f"making the demo images {done}/{n}")
                progress.check()
        _write_true_labels(staging / TRUE_LABELS, plan)
        out.mkdir(exist_ok=True)
        if os.path.lexists(target):
            shutil.rmtree(target)
        os.replace(tree, target)
        os.replace(staging / TRUE_LABELS, out / TRUE_LABELS)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _check(n: int, noise: float, seed: int) -> None:
    if not isinstance(n, (int, np.integer)) or n < 2 * len(CLASSES):
        raise InspectorError(f"n must be an integer of at least {2 * len(CLASSES)} (two images per class), got {n}")
    if not (0.0 <= noise < 1.0):
        raise InspectorError(f"noise must be a fraction in [0, 1), got {noise}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InspectorError(f"seed must be a non-negative integer, got {seed}")


def _class_counts(n: int) -> dict[str, int]:
    counts = {c: int(n * share) for c, share in _CLASS_SHARE.items()}
    for c in CLASSES[: n - sum(counts.values())]:  # hand out the remainder, good first
        counts[c] += 1
    return counts


def _save_png(path: Path, array: np.ndarray) -> None:
    # compress_level 1: a third of the time of the default 6 for about 12% more bytes on noise-like texture.
    Image.fromarray(array).save(path, format="PNG", compress_level=1)


def _write_true_labels(path: Path, plan: list[DemoItem]) -> None:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["rel_path", "true_label", "given_label"])
    for it in sorted(plan, key=lambda it: it.rel_path):
        writer.writerow([it.rel_path, it.true_label, it.given_label])
    path.write_text(buf.getvalue(), encoding="utf-8")
