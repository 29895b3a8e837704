"""The adaptive-attention model: factory, attention capture, checkpoints."""
from __future__ import annotations

import torch
from torch import nn

from core.model.aan import AAN, POOLS, VARIANTS, AANConfig
from core.model.attention import AdaptiveAttention, AlphaAttention, AttentionPool
from core.model.capture import AttentionCapture, LayerAttention, attention_layers, capture_attention

__all__ = [
    "AAN",
    "AANConfig",
    "AdaptiveAttention",
    "AlphaAttention",
    "AttentionPool",
    "POOLS",
    "AttentionCapture",
    "LayerAttention",
    "attention_layers",
    "capture_attention",
    "create_model",
    "model_names",
]


def model_names() -> list[str]:
    return sorted(VARIANTS)


def create_model(name: str, num_classes: int, in_chans: int = 3, **options) -> nn.Module:
    """Build a freshly initialised model by variant name (e.g. "aan_s").

    `options` override fields of the variant's `AANConfig` (e.g. pool="mean"); a checkpoint stores
    the full config, so it rebuilds exactly what was trained whatever the variant's defaults become.
    """
    if name not in VARIANTS:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(model_names())}")
    if num_classes < 1:
        raise ValueError("num_classes must be at least 1")
    if in_chans not in (1, 3):
        raise ValueError("in_chans must be 1 (grayscale) or 3 (RGB)")
    config = VARIANTS[name]
    if options:
        try:
            config = AANConfig.from_dict({**config.to_dict(), **options})
        except (TypeError, ValueError) as e:
            raise ValueError(f"{name}: {e}") from None
    model = AAN(config, num_classes=num_classes, in_chans=in_chans)
    model.arch = name
    return model


