"""Plain records the attention worker hands to the GUI (numpy only, no torch)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(slots=True)
class LayerMaps:
    layer: int
    name: str
    grid: tuple[int, int]
    maps: np.ndarray  # (heads, h, w): attention of the query token (or mean over queries) per head
    alphas: np.ndarray  # (heads,) the model's alpha_i for this layer
    contributions: np.ndarray  # (heads,) share of the layer's output attributed to each head, sums to 1
    alignment: np.ndarray | None = None  # (heads,) defect-alignment score when the image has a mask

    @property
    def num_heads(self) -> int:
        return int(self.maps.shape[0])

    def mean_map(self) -> np.ndarray:
        return self.maps.mean(axis=0)


@dataclass(slots=True)
class AttentionResult:
    image_id: int
    model_id: int | None
    query: tuple[float, float] | None  # (x, y) in image pixels, None = every query token averaged
    image_size: tuple[int, int]  # (H, W) of the displayed image
    layers: list[LayerMaps]
    rollout: np.ndarray  # (h, w) of the last layer's grid
    probs: np.ndarray  # (classes,) with every head on
    class_names: list[str] = field(default_factory=list)
    relevance: np.ndarray | None = None  # (h, w) gradient-weighted relevance for `relevance_class`, first grid
    relevance_class: int | None = None


@dataclass(slots=True)
class AblationResult:
    image_id: int
    off: frozenset[tuple[int, int]]  # (layer, head) switched off
    probs: np.ndarray
