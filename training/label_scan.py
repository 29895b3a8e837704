"""Find suspected label errors in a project without a trained model: a label scan.

A small aan_t is trained from scratch on the project's current labels, and every image's predicted
probabilities are averaged over the early part of training (`training_dynamics_probs`: learned the
common patterns, not yet memorised the wrong labels). Confident learning on those probabilities
ranks the images (`core.inference.ranking.rank_for_review`).

Measured on the demo data (1050 training images, 105 planted errors, 300 epochs at 96 px on
2 CPU cores, about 4 minutes): 74% of the planted errors are in the top 105
(tests/inference/test_label_errors_slow.py). Stored predictions of one model version
(`inspector review`) are the other route; they come from a model that saw these very labels to
the end of its training, so wrong labels it memorised look right to it.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.errors import InspectorError
from core.inference.preprocess import Preprocess
from core.inference.ranking import rank_for_review
from core.inference.review import ReviewItem, review_item
from training.demo_train import (
    DemoTrainConfig,
    Progress,
    TrainItem,
    load_image_set,
    pixel_stats,
    training_dynamics_probs,
)

WINDOW = (0.05, 0.5)  # fraction of training over which probabilities are averaged
EPOCHS = 300
INPUT_SIZE = 96


def labelled_images(session, splits: Sequence[str] | None = None) -> list:
    """ImageRecords of every readable, labelled image (in the given splits), by id."""
    from core.store.queries import ImageFilter, all_images

    flt = ImageFilter(readable=True, splits=list(splits) if splits else None)
    return [r for r in all_images(session, flt) if r.label is not None]


def scan_label_errors(project, *, splits: Sequence[str] | None = None, epochs: int = EPOCHS, input_size: int = INPUT_SIZE,
                      seed: int = 0, progress: Progress | None = None) -> list[ReviewItem]:
    """Every labelled image worth a look, best first (label issues, then disagreements, then doubt)."""
    with project.session() as session:
        records = labelled_images(session, splits)
    if len({r.label for r in records}) < 2:
        raise InspectorError("a label scan needs labelled images of at least two classes")
    by_path = {str(Path(r.abs_path)): r for r in records}
    data = load_image_set([TrainItem(Path(r.abs_path), r.label) for r in records], input_size, in_chans=1)
    kept = [by_path[str(p)] for p in data.paths]  # unreadable files were left out
    mean, std = pixel_stats(data.x)
    cfg = DemoTrainConfig(arch="aan_t", input_size=input_size, epochs=epochs, seed=seed)
    _, probs = training_dynamics_probs(data.x, data.y, len(data.class_names), cfg,
                                       Preprocess(input_size, 1, mean, std), start=WINDOW[0], stop=WINDOW[1], progress=progress)
    entries = rank_for_review(np.array([r.id for r in kept]), data.y.numpy(), probs)
    records = {r.id: r for r in kept}
    return [review_item(rank, e, records, data.class_names) for rank, e in enumerate(entries, 1)]
