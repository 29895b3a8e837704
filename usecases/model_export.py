"""Export a checkpoint for the edge: ONNX fp32, or int8 calibrated on a project's own images."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import InspectorError
from core.progress import Reporter, silent

if TYPE_CHECKING:
    from core.edge.onnx_export import ExportReport

CALIBRATION_IMAGES = 200  # onnxruntime's MinMax ranges settle within a few hundred images


def export_model(checkpoint: str | os.PathLike, out: str | os.PathLike, *, int8: bool = False,
                 calibrate_db: str | os.PathLike | None = None, calibrate_n: int = CALIBRATION_IMAGES, seed: int = 0,
                 with_attention: bool = False, progress: Reporter | None = None) -> ExportReport:
    """Write an ONNX file; with `calibrate_db`, `calibrate_n` of its readable images (a seeded random
    sample) calibrate int8 and check the export against PyTorch on real pixels."""
    from core.edge.onnx_export import export_onnx
    from core.model.checkpoint import read_metadata

    progress = progress or silent()
    if int8 and calibrate_db is None:
        raise InspectorError("--int8 needs --calibrate-db PROJECT.db: int8 ranges come from the project's own images")
    if calibrate_n < 1:
        raise InspectorError("--calibrate-n must be at least 1")
    meta = read_metadata(checkpoint)  # a foreign file is refused before any project is read
    images, source = None, None
    if calibrate_db is not None:
        images, source = calibration_images(calibrate_db, meta, calibrate_n, seed=seed, progress=progress)
    return export_onnx(checkpoint, out, int8=int8, calibration=images, calibration_source=source,
                       with_attention=with_attention, progress=progress)


def calibration_images(db: str | os.PathLike, meta, n: int, *, seed: int = 0,
                       progress: Reporter | None = None) -> tuple[list[np.ndarray], dict]:
    """Up to `n` readable images of the project, preprocessed exactly as prediction does."""
    import torch

    from core.inference.loader import make_loader
    from core.inference.preprocess import Preprocess
    from core.store.project import open_project
    from core.store.queries import ImageFilter, all_images

    progress = progress or silent()
    with open_project(db, create=False) as project, project.session() as s:
        records = all_images(s, ImageFilter(readable=True))
    if not records:
        raise InspectorError(f"{Path(db).name}: no readable images to calibrate on")
    rng = np.random.default_rng(seed)
    chosen = [records[i] for i in sorted(rng.choice(len(records), size=min(n, len(records)), replace=False))]
    pre = Preprocess.from_meta(meta)
    images: list[np.ndarray] = []
    for _idx, batch, errs in make_loader([r.abs_path for r in chosen], pre, batch_size=32, num_workers=0):
        ok = [j for j, e in enumerate(errs) if not e]
        if ok:
            with torch.inference_mode():
                images.extend(pre.normalise(batch[ok]).numpy())
        progress.progress(len(images), len(chosen), f"calibration images {len(images)}/{len(chosen)}")
    if not images:
        raise InspectorError(f"{Path(db).name}: none of the {len(chosen)} sampled images could be read")
    return images, {"project": Path(db).name, "images": len(images), "seed": seed}
