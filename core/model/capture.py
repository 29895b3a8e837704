"""Record attention probabilities of every adaptive-attention layer during a forward pass."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import torch
from torch import nn

from core.model.attention import AlphaAttention


@dataclass
class LayerAttention:
    layer: int
    name: str
    probs: torch.Tensor  # (B, heads, Nq, N), rows sum to 1; Nq = N, or 1 for attention pooling
    grid: tuple[int, int]  # token grid (h, w), N = h * w

    @property
    def is_pooling(self) -> bool:
        """The classifier's attention pooling: one learned query per head instead of N."""
        return self.probs.shape[-2] == 1 and self.probs.shape[-1] > 1


@dataclass
class AttentionCapture:
    """Filled by the latest forward pass inside `capture_attention`, one entry per attention layer."""

    layers: list[LayerAttention] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> LayerAttention:
        return self.layers[i]

    def __iter__(self) -> Iterator[LayerAttention]:
        return iter(self.layers)


def attention_layers(model: nn.Module) -> list[tuple[str, AlphaAttention]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, AlphaAttention)]


@contextmanager
def capture_attention(model: nn.Module, *, keep_grad: bool = False) -> Iterator[AttentionCapture]:
    """Inside the block, each forward pass records per layer the attention `(B, heads, N, N)` and grid.

    A new forward pass replaces the previous pass's records; logits are the same as without capture
    (explicit softmax instead of the fused kernel, equal within float tolerance). `keep_grad`
    records the probabilities in the autograd graph, with `.grad` kept after a backward pass
    (gradient-weighted relevance, core.inference.attribution).
    """
    capture = AttentionCapture()
    layers = attention_layers(model)
    index = {id(m): (i, n) for i, (n, m) in enumerate(layers)}

    def record(module: AlphaAttention, probs: torch.Tensor, grid: tuple[int, int]) -> None:
        i, name = index[id(module)]
        if i == 0:
            capture.layers.clear()
        if keep_grad and probs.requires_grad:
            probs.retain_grad()
        kept = probs if keep_grad else probs.detach()
        capture.layers.append(LayerAttention(i, name, kept, (int(grid[0]), int(grid[1]))))

    for _, m in layers:
        m.recorder = record
    try:
        yield capture
    finally:
        for _, m in layers:
            m.recorder = None
