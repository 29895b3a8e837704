"""The network to train: a fresh architecture, or a base checkpoint fitted to our classes and channels."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from training.config import ConfigError, TrainConfig

GRAY_MEAN, GRAY_STD = (0.449,), (0.226,)  # ImageNet channel means, averaged: grayscale of the same data


@dataclass(slots=True)
class BuiltModel:
    model: nn.Module
    arch: str
    pool: str | None
    mean: tuple[float, ...]
    std: tuple[float, ...]
    parent: str | None
    head_replaced: bool
    provenance: dict[str, Any] = field(default_factory=dict)  # what the start was (a base checkpoint's origin)


def build_model(cfg: TrainConfig, class_names: list[str], *, stats: torch.Tensor | None = None) -> BuiltModel:
    """From scratch (`model.base` names an architecture): normalisation from the training images
    when they are in memory (`stats`), else ImageNet's. From a checkpoint: its weights and its
    normalisation; a new class list gets a new head, another channel count an adapted stem."""
    from core.model import create_model, model_names
    from core.model.checkpoint import IMAGENET_MEAN, IMAGENET_STD, load_checkpoint

    m, d = cfg.model, cfg.data
    if m.base in model_names():
        options = {"pool": m.pool} if m.pool else {}
        model = create_model(m.base, len(class_names), d.in_chans, **options)
        if stats is not None:
            from training.data import pixel_stats

            mean, std = pixel_stats(stats)
        else:
            mean, std = (IMAGENET_MEAN, IMAGENET_STD) if d.in_chans == 3 else (GRAY_MEAN, GRAY_STD)
        return BuiltModel(model, m.base, model.config.pool, tuple(mean), tuple(std), cfg.run.parent, False)
    path = Path(m.base)
    if not path.exists():
        raise ConfigError(f"model.base {m.base!r} is neither an architecture ({', '.join(model_names())}) nor a file")
    model, meta = load_checkpoint(path)
    if m.pool and m.pool != model.config.pool:
        raise ConfigError(f"{path.name} pools with {model.config.pool!r}; model.pool={m.pool!r} would discard what it learned")
    mean, std = tuple(meta.mean), tuple(meta.std)
    if meta.in_chans != d.in_chans:
        model.adapt_input_channels(d.in_chans)
        # Gray from RGB: the channel average of the statistics; RGB from gray: the gray ones, thrice.
        mean = (sum(mean) / len(mean),) if d.in_chans == 1 else mean * 3
        std = (sum(std) / len(std),) if d.in_chans == 1 else std * 3
    replaced = list(meta.class_names) != list(class_names)
    if replaced:
        model.reset_classifier(len(class_names))  # same features, new classifier for our classes
    model.train()
    start = {"start": {"file": path.name, "arch": meta.arch, "classes": len(meta.class_names),
                       "in_chans": meta.in_chans, "provenance": meta.provenance}}
    return BuiltModel(model, meta.arch, model.config.pool, mean, std, cfg.run.parent or path.name, replaced, start)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """No decay on 1-D parameters: biases, norm scales, layer scales and the per-head alphas (decay
    would pull every head's alpha towards 0, i.e. switch heads off, which is not what
    regularisation means)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def fingerprint(cfg: TrainConfig, class_names: list[str]) -> str:
    """What must not change between a save and a resume (the shapes and meaning of the weights)."""
    return f"{cfg.model.base}|{cfg.model.pool}|{cfg.data.in_chans}|{cfg.data.input_size}|{','.join(class_names)}"
