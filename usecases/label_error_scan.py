"""Suspected label errors from a short training on the current labels: training.label_scan trains
a model (from the project's newest model version unless told otherwise) and ranks every image."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.progress import Reporter, silent

if TYPE_CHECKING:
    from core.inference.review import ReviewItem
    from core.store.project import Project


@dataclass(frozen=True, slots=True)
class LabelScan:
    items: list[ReviewItem]  # best first
    base: str  # the checkpoint or architecture training started from
    epochs: int
    input_size: int


def label_scan(project: Project, *, splits: Sequence[str] | None = None, base: str | None = None,
               epochs: int | None = None, input_size: int | None = None, seed: int = 0,
               progress: Reporter | None = None) -> LabelScan:
    """Every labelled image worth a look, best first, and what the scan trained with (the recipe's
    defaults for whatever is not given; `base` defaults to `training.label_scan.default_base`).
    Nothing is written to the project."""
    from training import label_scan as recipe

    progress = progress or silent()
    size = input_size or recipe.INPUT_SIZE
    base = base or recipe.default_base(project)
    epochs = recipe.scan_config(epochs=epochs, base=base).schedule.epochs
    items = recipe.scan_label_errors(project, splits=splits, base=base, epochs=epochs, input_size=size, seed=seed,
                                     reporter=progress.sub(0.0, 1.0, "label scan: "))
    return LabelScan(items, base, epochs, size)
