"""A first model trained on a project's own labels in one process (`inspector train-demo`), and the
recipe of the demo checkpoint shipped in assets/ (scripts/make_demo_model.py rebuilds it).

Trains on every labelled image outside the test split (train + val), through the one trainer with
its small-data defaults and the images in memory, then scores the held-out test split and records
it in the checkpoint's provenance.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from core.progress import Reporter, silent
from training.config import DataConfig, ModelConfig, RunConfig, ScheduleConfig, TrainConfig
from training.project_data import load_project_data
from training.trainer import save_trained, train

INPUT_SIZE = 128  # the demo's defects are visible at 128 px; 3x cheaper than 224
EPOCHS = 60
IN_CHANS = 1


def demo_config(*, arch: str = "aan_s", epochs: int = EPOCHS, input_size: int = INPUT_SIZE, in_chans: int = IN_CHANS,
                seed: int = 0, pool: str | None = None) -> TrainConfig:
    return TrainConfig(
        data=DataConfig(input_size=input_size, in_chans=in_chans, in_memory=True),
        model=ModelConfig(base=arch, pool=pool),
        schedule=ScheduleConfig(epochs=epochs),
        run=RunConfig(seed=seed, trainer="training.demo_model"),
    )


def train_project_model(project, out_path: str | os.PathLike, *, cfg: TrainConfig | None = None,
                        reporter: Reporter | None = None, provenance: dict | None = None) -> Path:
    """Train on the project's labels (test split held out), save a checkpoint, return its path."""
    reporter = reporter or silent()
    cfg = cfg or demo_config()
    t0 = time.monotonic()
    pd = load_project_data(project, input_size=cfg.data.input_size, in_chans=cfg.data.in_chans, hold_out="test",
                           reporter=reporter.sub(0.0, 0.08, "reading images: "))
    result = train(cfg, data=pd.data, reporter=reporter.sub(0.08, 0.98, "training: "))
    reporter.check()
    accuracy = None
    if pd.test is not None and len(pd.test):
        accuracy = score(result.model, pd.test, result.built.mean, result.built.std)
    reporter.fraction(1.0, "saving the model")
    return save_trained(out_path, result.model, result.built, cfg, result.class_names, provenance={
        "epochs": result.epochs_done, "train_images": len(pd.data.train), "train_acc": result.train_acc,
        "test_images": len(pd.test) if pd.test is not None else 0, "test_accuracy": accuracy,
        "seconds": round(time.monotonic() - t0, 1), **(provenance or {})})


@torch.inference_mode()
def score(model: torch.nn.Module, source, mean, std, batch_size: int = 128) -> float:
    """Top-1 accuracy on a decoded split."""
    model.eval()
    m = torch.tensor(mean).view(1, -1, 1, 1) * 255.0
    s = torch.tensor(std).view(1, -1, 1, 1) * 255.0
    correct = 0
    for xb, yb, _ in source.batches(range(len(source)), batch_size, drop_last=False):
        correct += int((model((xb.float() - m) / s).argmax(1) == yb).sum())
    return correct / len(source)
