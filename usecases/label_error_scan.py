"""Suspected label errors without a trained model: training.label_scan trains a small one (minutes)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.progress import Reporter, silent

if TYPE_CHECKING:
    from core.inference.review import ReviewItem
    from core.store.project import Project


def label_scan(project: Project, *, splits: Sequence[str] | None = None, epochs: int | None = None,
               input_size: int | None = None, progress: Reporter | None = None) -> list[ReviewItem]:
    """Every labelled image worth a look, best first. Nothing is written to the project."""
    from training.label_scan import scan_label_errors

    progress = progress or silent()
    options = {k: v for k, v in (("epochs", epochs), ("input_size", input_size)) if v is not None}

    def step(message: str, fraction: float) -> None:  # the trainer's own progress signature
        progress.fraction(fraction, f"label scan: {message}")
        progress.check()

    return scan_label_errors(project, splits=splits, progress=step, **options)
