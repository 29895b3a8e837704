"""How far an explanation map can be trusted: does removing what it points at change the decision?

Per image, method and the explained class (the predicted one):
- deletion curve: the map's most relevant pixels are replaced, in 5 % steps, by the image's blurred
  copy (a baseline that keeps the input in distribution, unlike black), recording the class
  probability; insertion: the reverse, from the blurred copy. AUC = the curve's mean height
  (trapezoid on [0, 1]): low deletion and high insertion AUC mean a faithful map.
- top-10 % test: removing the map's top 10 % drops the probability more than removing a random
  10 % of the pixels (seeded), by at least MIN_EFFECT. The share of images where it does, with a Wilson 95 % interval, is
  the plain-words number: a method whose interval reaches 0.5 is no better than chance.
- with a defect mask (model-input scale): pointing game (the map's maximum lies in the mask grown
  by half a token, as `inspector heads` counts it) and
  the IoU of the map's top 10 % with the mask.
Maps are on token grids; they are upsampled bilinearly to the input size to rank pixels, with a
seeded jitter far below one step of the map so that ties (inside one token) break at random.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from core.image_ops import gaussian_blur
from core.inference.heads import DEFAULT_TOLERANCE, dilate
from core.inference.upsample import upsample_bilinear

STEPS = 20  # 5 % of the pixels per step
TOP = 0.10
BLUR_SIGMA = 0.06  # of the input size: blurs a defect away, keeps the surface's overall look
BATCH = 64
# A win needs the top-10 % removal to drop the probability at least this much more than the random
# removal: smaller differences are noise (a random-weights network's probabilities barely move,
# and without a margin its maps "beat" chance on tiny wobbles).
MIN_EFFECT = 0.01


@dataclass
class ImageScores:
    deletion: np.ndarray  # (STEPS + 1,) class probability after removing 0 %, 5 %, ... 100 %
    insertion: np.ndarray  # (STEPS + 1,)
    drop_top: float  # probability drop when removing the map's top 10 %
    drop_random: float  # ... a random 10 %
    pointing: float | None = None  # 1 / 0 with a mask, else None
    iou: float | None = None

    @property
    def deletion_auc(self) -> float:
        return auc(self.deletion)

    @property
    def insertion_auc(self) -> float:
        return auc(self.insertion)


@dataclass
class MethodSummary:
    method: str
    images: int
    deletion_auc: float
    insertion_auc: float
    better_than_random: float  # share of images where top-10 % removal beats random removal by MIN_EFFECT
    ci_low: float
    ci_high: float
    better_strict: float  # the same without the margin (any larger drop counts)
    pointing: float | None  # over images with a defect mask
    iou: float | None
    masked_images: int = 0
    ms_per_image: float = 0.0  # the map's own cost
    deletion_curve: list[float] = field(default_factory=list)

    @property
    def trustworthy(self) -> bool:
        """Better than chance: the interval of the top-10 % share lies above one half."""
        return self.ci_low > 0.5

    def to_dict(self) -> dict:
        return asdict(self)


def auc(curve: np.ndarray) -> float:
    c = np.asarray(curve, np.float64)
    return float(((c[1:] + c[:-1]) / 2).mean())


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def blurred(x: torch.Tensor) -> torch.Tensor:
    s = x.shape[-1]
    sigma = max(1.0, BLUR_SIGMA * s)
    k = int(2 * round(3 * sigma) + 1)
    return gaussian_blur(x, k, sigma)


def pixel_order(up: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pixel indices of a map at input resolution (s, s), from most to least relevant."""
    up = up.astype(np.float64).ravel()
    spread = up.max() - up.min()
    up = up + rng.random(up.shape) * (1e-6 * spread if spread > 0 else 1.0)
    return np.argsort(-up, kind="stable")


def score_image(model: nn.Module, x: torch.Tensor, m: np.ndarray, target: int, *, rng: np.random.Generator,
                mask: np.ndarray | None = None, baseline: torch.Tensor | None = None) -> ImageScores:
    """All scores of one normalised image (1, C, s, s) under map m for class `target`.
    `baseline`: what removed pixels become (default: the blurred copy)."""
    s = x.shape[-1]
    n = s * s
    base = blurred(x) if baseline is None else baseline
    up = upsample_bilinear(m, (s, s))  # the map at the input's pixels: ranks them, and points
    order = torch.from_numpy(pixel_order(up, rng))
    random_order = torch.from_numpy(rng.permutation(n))
    counts = [round(n * k / STEPS) for k in range(STEPS + 1)]
    top = round(n * TOP)
    keep_masks = []  # True = original pixel stays
    for c in counts:  # deletion
        keep = torch.ones(n, dtype=torch.bool)
        keep[order[:c]] = False
        keep_masks.append(keep)
    for c in counts:  # insertion
        keep = torch.zeros(n, dtype=torch.bool)
        keep[order[:c]] = True
        keep_masks.append(keep)
    keep = torch.ones(n, dtype=torch.bool)
    keep[random_order[:top]] = False
    keep_masks.append(keep)
    probs = _probabilities(model, x, base, torch.stack(keep_masks).view(-1, 1, s, s), target)
    deletion, insertion, rand = probs[: STEPS + 1], probs[STEPS + 1: 2 * STEPS + 2], probs[-1]
    top_step = round(TOP * STEPS)
    scores = ImageScores(deletion=deletion, insertion=insertion, drop_top=float(deletion[0] - deletion[top_step]),
                         drop_random=float(deletion[0] - rand))
    if mask is not None and mask.any():
        near = dilate(mask, DEFAULT_TOLERANCE)  # the map's peak is a token centre: half a token of slack
        scores.pointing = float(near[np.unravel_index(up.argmax(), up.shape)])
        top_px = np.zeros(n, bool)
        top_px[order[:top].numpy()] = True
        top_px = top_px.reshape(s, s)
        scores.iou = float((top_px & mask).sum() / max(1, (top_px | mask).sum()))
    return scores


@torch.inference_mode()
def _probabilities(model: nn.Module, x: torch.Tensor, base: torch.Tensor, keep: torch.Tensor, target: int) -> np.ndarray:
    out = []
    for i in range(0, len(keep), BATCH):
        k = keep[i: i + BATCH].to(x.device)
        batch = torch.where(k, x, base)
        out.append(model(batch).float().softmax(-1)[:, target].cpu())
    return torch.cat(out).numpy().astype(np.float64)


def summarise(method: str, scores: list[ImageScores], ms_per_image: float = 0.0) -> MethodSummary:
    n = len(scores)
    wins = sum(s.drop_top > s.drop_random + MIN_EFFECT for s in scores)
    lo, hi = wilson(wins, n)
    masked = [s for s in scores if s.pointing is not None]
    return MethodSummary(
        method=method, images=n,
        deletion_auc=float(np.mean([s.deletion_auc for s in scores])) if n else float("nan"),
        insertion_auc=float(np.mean([s.insertion_auc for s in scores])) if n else float("nan"),
        better_than_random=wins / n if n else float("nan"), ci_low=lo, ci_high=hi,
        better_strict=sum(s.drop_top > s.drop_random for s in scores) / n if n else float("nan"),
        pointing=float(np.mean([s.pointing for s in masked])) if masked else None,
        iou=float(np.mean([s.iou for s in masked])) if masked else None,
        masked_images=len(masked), ms_per_image=ms_per_image,
        deletion_curve=[float(v) for v in np.mean([s.deletion for s in scores], axis=0)] if n else [],
    )
