"""Find suspected label errors in a project: a label scan.

A model is trained on the project's current labels (the one trainer, its small-data recipe),
starting from the project's newest model version when it has one (its features already know the
parts, so a short training suffices), else from the shipped start checkpoint or from scratch. Every
image's predicted probabilities are averaged over the early part of training
(`TrainingTrace`: it has learned the common patterns but not yet memorised the wrong labels, so a
wrong label keeps a low probability). Confident learning on those probabilities ranks the images
(`core.inference.ranking.rank_for_review`). Nothing is written to the project.

Stored predictions of one model version (`inspector review`) are the other route; they come from a
model that saw these very labels to the end of its training, so wrong labels it memorised look
right to it. Measured recall: tests/inference/test_label_errors_slow.py and training/README.md.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from core.errors import InspectorError
from core.inference.ranking import rank_for_review
from core.inference.review import ReviewItem, review_item
from core.progress import Reporter, silent
from training.config import DataConfig, ModelConfig, RunConfig, ScheduleConfig, TrainConfig
from training.project_data import load_project_data
from training.trainer import BatchObserver, train

WINDOW = (0.05, 0.5)  # fraction of training over which probabilities are averaged
EPOCHS = 40  # from scratch
EPOCHS_FROM_CHECKPOINT = 6  # from a trained model: the features are there, the head only adapts
INPUT_SIZE = 128
ARCH = "aan_s"


class TrainingTrace(BatchObserver):
    """Each example's predicted probabilities averaged over the training steps that saw it, within
    fractions [start, stop) of the training (training dynamics in the spirit of "area under the
    margin", Pleiss et al. 2020)."""

    def __init__(self, n: int, num_classes: int, start: float, stop: float):
        self.start, self.stop = start, stop
        self.sums = torch.zeros(n, num_classes)
        self.counts = torch.zeros(n)

    def on_batch(self, indices: torch.Tensor, logits: torch.Tensor, done: float) -> None:
        if self.start <= done < self.stop:
            idx = indices.cpu()
            self.sums.index_add_(0, idx, logits.softmax(-1).cpu())
            self.counts.index_add_(0, idx, torch.ones(len(idx)))

    def probs(self) -> np.ndarray:
        seen = self.counts > 0
        out = torch.full_like(self.sums, 1.0 / self.sums.shape[1])
        out[seen] = self.sums[seen] / self.counts[seen, None]
        return out.numpy()


def scan_config(*, epochs: int | None = None, input_size: int = INPUT_SIZE, base: str = ARCH, in_chans: int = 1,
                seed: int = 0) -> TrainConfig:
    """`base`: an architecture (from scratch) or a checkpoint to start from."""
    from core.model import model_names

    if epochs is None:
        epochs = EPOCHS if base in model_names() else EPOCHS_FROM_CHECKPOINT
    return TrainConfig(data=DataConfig(input_size=input_size, in_chans=in_chans, in_memory=True),
                       model=ModelConfig(base=base), schedule=ScheduleConfig(epochs=epochs),
                       run=RunConfig(seed=seed, trainer="training.label_scan"))


def default_base(project) -> str:
    """The project's newest model version whose file is still there, else the shipped start
    checkpoint, else the architecture (from scratch)."""
    from pathlib import Path

    from core.store.model_versions import list_model_versions
    from training.pretrain import start_checkpoint

    with project.session() as s:
        paths = [Path(m.path) for m in reversed(list_model_versions(s))]
    for path in paths:
        if path.is_file():
            return str(path)
    start = start_checkpoint(ARCH)
    return str(start) if start else ARCH


def base_in_chans(base: str) -> int:
    """A checkpoint's channel count (a scan keeps the model's view of the images); 1 from scratch."""
    from core.model import model_names
    from core.model.checkpoint import read_metadata

    return 1 if base in model_names() else read_metadata(base).in_chans


def trace_probs(data, cfg: TrainConfig, *, window: tuple[float, float] = WINDOW,
                reporter: Reporter | None = None) -> np.ndarray:
    """Train on `data` (a TrainData) and return the trajectory-averaged probabilities (N, K)."""
    trace = TrainingTrace(len(data.train), len(data.class_names), *window)
    train(cfg, data=data, reporter=reporter, observer=trace)
    return trace.probs()


def scan_label_errors(project, *, splits: Sequence[str] | None = None, base: str | None = None,
                      epochs: int | None = None, input_size: int = INPUT_SIZE, seed: int = 0,
                      reporter: Reporter | None = None) -> list[ReviewItem]:
    """Every labelled image worth a look, best first (label issues, then disagreements, then doubt).
    `base`: where training starts (default: `default_base`)."""
    reporter = reporter or silent()
    base = base or default_base(project)
    cfg = scan_config(epochs=epochs, input_size=input_size, base=base, in_chans=base_in_chans(base), seed=seed)
    try:
        pd = load_project_data(project, input_size=input_size, in_chans=cfg.data.in_chans, splits=splits,
                               reporter=reporter.sub(0.0, 0.1, "reading images: "))
    except InspectorError as e:
        if "at least two classes" in str(e):
            raise InspectorError("a label scan needs labelled images of at least two classes") from None
        raise
    probs = trace_probs(pd.data, cfg, reporter=reporter.sub(0.1, 1.0, "training: "))
    reporter.check()
    labels = np.array(pd.data.train.targets)
    entries = rank_for_review(np.array([r.id for r in pd.records]), labels, probs)
    records = {r.id: r for r in pd.records}
    return [review_item(rank, e, records, pd.data.class_names) for rank, e in enumerate(entries, 1)]
