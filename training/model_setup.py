"""The network to train: a fresh architecture or a base checkpoint with its head fitted to our classes."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from training.config import ConfigError, FinetuneConfig

GRAY_MEAN, GRAY_STD = (0.449,), (0.226,)  # ImageNet channel means, averaged: grayscale of the same data


@dataclass(slots=True)
class BuiltModel:
    model: nn.Module
    arch: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    parent: str | None
    head_replaced: bool


def build_model(cfg: FinetuneConfig, class_names: list[str]) -> BuiltModel:
    from core.model import create_model, model_names
    from core.model.checkpoint import IMAGENET_MEAN, IMAGENET_STD, load_checkpoint

    if cfg.base in model_names():
        model = create_model(cfg.base, len(class_names), cfg.in_chans)
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if cfg.in_chans == 3 else (GRAY_MEAN, GRAY_STD)
        return BuiltModel(model, cfg.base, tuple(mean), tuple(std), cfg.parent, False)
    path = Path(cfg.base)
    if not path.exists():
        raise ConfigError(f"base {cfg.base!r} is neither an architecture ({', '.join(model_names())}) nor a file")
    model, meta = load_checkpoint(path)
    if meta.in_chans != cfg.in_chans:
        raise ConfigError(f"{path.name} takes {meta.in_chans}-channel input, the config says in_chans={cfg.in_chans}")
    replaced = list(meta.class_names) != list(class_names)
    if replaced:
        # Same backbone, new classifier: only the head's shape depends on the class list.
        head = model.head
        model.head = nn.Linear(head.in_features, len(class_names))
        nn.init.trunc_normal_(model.head.weight, std=0.02)
        nn.init.zeros_(model.head.bias)
    model.train()
    return BuiltModel(model, meta.arch, tuple(meta.mean), tuple(meta.std), cfg.parent or path.name, replaced)


def freeze_stem(model: nn.Module) -> None:
    stem = getattr(model, "stem", None)
    if stem is None:
        raise ConfigError(f"freeze_stem: {type(model).__name__} has no 'stem' module")
    for p in stem.parameters():
        p.requires_grad_(False)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """No decay on 1-D parameters: biases, norm scales and the per-head alphas (decay would pull
    every head's alpha towards 0, i.e. switch heads off, which is not what regularisation means)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def fingerprint(cfg: FinetuneConfig, class_names: list[str]) -> str:
    """What must not change between a save and a resume (the shapes and meaning of the weights)."""
    return f"{cfg.base}|{cfg.in_chans}|{cfg.input_size}|{','.join(class_names)}"
