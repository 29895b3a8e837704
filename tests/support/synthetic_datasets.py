"""One writer of synthetic datasets for the tests (core.data.demo makes the big, realistic one).

Every image is a noisy grey part; a "scratch" carries a bright line, a "spot" a dark disc, any other
class nothing, and the defect's mask is kept. Images are drawn in one order whatever the layout
(image i has class i % len(classes) and is the (i // len(classes))-th of its class), so the same
arguments give the same bytes.
"""
from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("good", "scratch", "spot")
LAYOUTS = ("imagefolder", "mvtec", "flat")

Split = Callable[[int, int], str | None]  # (index within its class, images of that class) -> split


@dataclass(frozen=True, slots=True)
class WrittenImage:
    path: Path
    rel_path: str  # relative to the dataset root that import takes
    label: str
    split: str | None
    mask_path: Path | None


def part_image(label: str, rng: np.random.Generator, shape: tuple[int, int] = (48, 48), *,
               scratch_row: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """uint8 (H, W) and the defect's bool mask (None for a class without a defect). A scratch runs
    along a random row, or along `scratch_row` in every image (a defect a few epochs learn)."""
    h, w = shape
    img = rng.normal(128, 12, (h, w)).clip(0, 255).astype(np.uint8)
    mask = np.zeros((h, w), bool)
    if label == "scratch":
        r = scratch_row if scratch_row is not None else int(rng.integers(min(8, h // 4), max(h - 8, h // 4 + 1)))
        mask[r - 1:r + 2, 6:w - 6] = True
        img[mask] = 240
    elif label == "spot":
        cy, cx = (int(rng.integers(min(16, s // 3), max(s - 16, s // 3 + 1))) for s in (h, w))
        yy, xx = np.mgrid[:h, :w]
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 < 36] = True
        img[mask] = 20
    else:
        return img, None
    return img, mask


def last_as_test(n: int) -> Split:
    """The last `n` images of each class are test, the others train (an MVTec-style split)."""
    return lambda k, count: "train" if k < count - n else "test"


def every_nth_as_val(n: int) -> Split:
    """Every n-th image of each class is val, the others train."""
    return lambda k, _count: "val" if k % n == n - 1 else "train"


def write_parts(root: Path, classes: Sequence[str] = ("good", "scratch"), n: int = 12, *, layout: str = "imagefolder",
                shape: tuple[int, int] = (48, 48), channels: int = 1, split: Split | None = None, seed: int = 0,
                category: str = "part", scratch_row: int | None = None) -> list[WrittenImage]:
    """Write `n` images under `root`:

    imagefolder  root/<class>/<class>_<k>.png
    mvtec        root/<category>/<split>/<class>/<class>_<k>.png, masks in root/<category>/ground_truth/<class>/
    flat         root/images/<i>.png (labels and splits only in a manifest: see write_manifest)

    Import `root` in each case (a flat folder through its manifest).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}")
    rng = np.random.default_rng(seed)
    counts = {c: len(range(i, n, len(classes))) for i, c in enumerate(classes)}
    written = []
    for i in range(n):
        label, k = classes[i % len(classes)], i // len(classes)
        img, mask = part_image(label, rng, shape, scratch_row=scratch_row)
        sp = split(k, counts[label]) if split else None
        name = f"{label}_{k:02d}.png"
        rel = {"imagefolder": f"{label}/{name}", "mvtec": f"{category}/{sp or 'train'}/{label}/{name}",
               "flat": f"images/{i:03d}.png"}[layout]
        pixels = img if channels == 1 else np.stack([img, img // 2, img], axis=-1)
        mask_path = None
        if layout == "mvtec" and mask is not None:
            mask_path = _save(root / category / "ground_truth" / label / f"{label}_{k:02d}_mask.png",
                              mask.astype(np.uint8) * 255)
        written.append(WrittenImage(_save(root / rel, pixels), rel, label, sp, mask_path))
    return written


def write_manifest(path: Path, images: Sequence[WrittenImage]) -> Path:
    """A CSV manifest with absolute paths (path, content_hash, label, split), as a job's snapshot has."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "content_hash", "label", "split"])
        for k, im in enumerate(images):
            w.writerow([str(im.path), f"h{k}", im.label, im.split or "train"])
    return path


def tiny_checkpoint(path: Path, classes: Sequence[str], *, arch: str = "aan_s", in_chans: int = 1, input_size: int = 64,
                    mean: tuple[float, ...] = (0.5,), std: tuple[float, ...] = (0.25,), seed: int | None = 0,
                    weights_of: str | None = None):
    """An untrained checkpoint of `arch`: (path, CheckpointMeta). `weights_of` writes another
    architecture's weights under that name (a checkpoint whose metadata is wrong)."""
    import torch

    from core.model import create_model
    from core.model.checkpoint import CheckpointMeta, save_checkpoint

    if seed is not None:
        torch.manual_seed(seed)
    meta = CheckpointMeta(arch=arch, class_names=list(classes), in_chans=in_chans, input_size=input_size,
                          mean=mean, std=std)
    model = create_model(weights_of or arch, len(classes), in_chans=in_chans)
    return save_checkpoint(path, model, meta), meta


def import_folder(db: Path, folder: Path, *, user: str = "importer", format: str = "auto"):
    """Scan `folder` and import it into the project `db` (created); returns the open Project."""
    from core.data.scan import scan_dataset
    from core.store.ingest import import_scan
    from core.store.project import open_project

    project = open_project(db)
    with project.session() as s:
        import_scan(s, scan_dataset(folder, format), user=user)
    return project


def _save(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path
