"""Do heads look at defects? Per layer and head, over images that have a defect mask:

- mask mass: share of the received attention (column mean over queries, bilinearly upsampled to
  the model input and normalised to sum 1) that falls inside the mask; uniform attention scores
  the mask's area fraction, reported as `area` so that `lift = mass / area` is comparable;
- pointing game: the location receiving the most attention lies inside the mask dilated by
  `tolerance` pixels at model-input scale (a hit rate over defect images);
- alpha, and the mean attention entropy (nats, over all analysed images);
- deletion effect: how much the predicted class's probability drops when the head alone is
  switched off (alpha = 0), over all analysed images and per predicted class.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.inference.preprocess import Preprocess
from core.inference.upsample import upsample_bilinear
from core.model.capture import attention_layers, capture_attention
from core.progress import Reporter, silent

if TYPE_CHECKING:
    from core.model.checkpoint import CheckpointMeta

DEFAULT_TOLERANCE = 8  # pixels at model-input scale: half a 16-px token


@dataclass(frozen=True, slots=True)
class HeadStats:
    layer: int
    head: int
    grid: tuple[int, int]
    alpha: float
    entropy: float  # mean attention entropy, nats (log N = uniform)
    mask_mass: float  # mean share of received attention inside the mask (nan: no defect image)
    area: float  # mean mask area fraction (mass under uniform attention)
    pointing: float  # pointing-game hit rate
    n_defect: int
    # Mean drop of the predicted class's probability when this head alone is switched off (alpha = 0),
    # over all analysed images, and per predicted class (class name -> mean drop).
    deletion_effect: float = float("nan")
    deletion_by_class: dict[str, float] | None = None

    @property
    def lift(self) -> float:
        return self.mask_mass / self.area if self.area > 0 else float("nan")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["grid"] = list(self.grid)
        d["lift"] = self.lift
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in d.items()}


class HeadAccumulator:
    """Sums per-head statistics image by image; `stats()` averages them."""

    def __init__(self, grids: list[tuple[int, int]], alphas: list[np.ndarray], tolerance: int = DEFAULT_TOLERANCE):
        self.grids = grids
        self.alphas = [np.asarray(a, dtype=np.float64) for a in alphas]
        self.tolerance = tolerance
        nh = [len(a) for a in self.alphas]
        self.entropy = [np.zeros(h) for h in nh]
        self.mass = [np.zeros(h) for h in nh]
        self.hits = [np.zeros(h) for h in nh]
        self.area = 0.0
        self.n_images = 0
        self.n_defect = 0
        self.drops: list[dict[int, list[float]]] = [[{} for _ in range(h)] for h in nh]  # [layer][head]: class -> drops
        self.class_names: list[str] = []

    def add_deletion(self, layer: int, head: int, predicted: np.ndarray, drop: np.ndarray) -> None:
        for c, d in zip(predicted.tolist(), drop.tolist()):
            self.drops[layer][head].setdefault(int(c), []).append(float(d))

    def add(self, received: list[np.ndarray], entropy: list[np.ndarray], mask: np.ndarray | None) -> None:
        """received: per layer (heads, h, w) column means; mask: (s, s) bool at model-input scale or None."""
        self.n_images += 1
        for i, e in enumerate(entropy):
            self.entropy[i] += e
        if mask is None or not mask.any():
            return
        self.n_defect += 1
        self.area += float(mask.mean())
        grown = dilate(mask, self.tolerance)
        for i, rec in enumerate(received):
            mass, hit = mask_alignment(rec, mask, grown)
            self.mass[i] += mass
            self.hits[i] += hit

    def _deletion(self, layer: int, head: int) -> dict:
        by_class = self.drops[layer][head]
        every = [d for ds in by_class.values() for d in ds]
        if not every:
            return {}
        names = self.class_names
        return {"deletion_effect": float(np.mean(every)),
                "deletion_by_class": {(names[c] if c < len(names) else str(c)): float(np.mean(ds))
                                      for c, ds in sorted(by_class.items())}}

    def stats(self) -> list[HeadStats]:
        out = []
        nd, ni = max(self.n_defect, 1), max(self.n_images, 1)
        for i, grid in enumerate(self.grids):
            for h in range(len(self.alphas[i])):
                out.append(HeadStats(
                    layer=i, head=h, grid=grid, alpha=float(self.alphas[i][h]),
                    entropy=float(self.entropy[i][h] / ni),
                    mask_mass=float(self.mass[i][h] / nd) if self.n_defect else float("nan"),
                    area=self.area / nd if self.n_defect else float("nan"),
                    pointing=float(self.hits[i][h] / nd) if self.n_defect else float("nan"),
                    n_defect=self.n_defect,
                    **self._deletion(i, h),
                ))
        return out


def mask_alignment(received: np.ndarray, mask: np.ndarray, grown: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """received (heads, h, w), mask (S, S) bool -> (mass inside mask, pointing hit) per head."""
    up = np.clip(upsample_bilinear(received, mask.shape), 0.0, None)
    total = up.sum(axis=(-2, -1))
    mass = (up * mask).sum(axis=(-2, -1)) / np.where(total > 0, total, 1.0)
    grown = mask if grown is None else grown
    # Argmax on the token grid, taken at the token's centre in input pixels: upsampling ties
    # (a flat map) would otherwise always point at the top-left corner.
    heads, h, w = received.shape
    flat = received.reshape(heads, -1).argmax(axis=1)
    ys = np.minimum(((flat // w + 0.5) * mask.shape[0] / h).astype(int), mask.shape[0] - 1)
    xs = np.minimum(((flat % w + 0.5) * mask.shape[1] / w).astype(int), mask.shape[1] - 1)
    return mass, grown[ys, xs].astype(np.float64)


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    if radius <= 0:
        return mask.astype(bool)
    t = torch.from_numpy(mask.astype(np.float32))[None, None]
    k = 2 * radius + 1
    return (F.max_pool2d(t, k, stride=1, padding=radius)[0, 0] > 0).numpy()


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """Any-size mask (nonzero = defect) -> (size, size) bool, area-averaged; thin defects are kept."""
    t = torch.from_numpy((np.asarray(mask) > 0).astype(np.float32))[None, None]
    small = F.interpolate(t, size=(size, size), mode="area")[0, 0].numpy()
    keep = small >= 0.5
    if not keep.any() and small.max() > 0:  # a defect thinner than a pixel at this scale
        keep = small >= small.max()
    return keep


@torch.inference_mode()
def received_attention(model: nn.Module, batch: torch.Tensor) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One forward pass: per layer (B, heads, h, w) received maps and (B, heads) mean entropies."""
    with capture_attention(model) as cap:
        model(batch)
    received, entropy = [], []
    for rec in cap.layers:
        a = rec.probs.float()
        b, nh, n, _ = a.shape
        received.append(a.mean(dim=2).view(b, nh, *rec.grid).cpu().numpy())
        entropy.append((-(a * a.clamp_min(1e-12).log()).sum(-1).mean(-1)).cpu().numpy())
    return received, entropy


def analyse_heads(
    model: nn.Module,
    meta: CheckpointMeta,
    items: Iterable[tuple[np.ndarray, np.ndarray | None]],
    *,
    batch_size: int = 16,
    tolerance: int = DEFAULT_TOLERANCE,
    progress: Reporter | None = None,
) -> list[HeadStats]:
    """items: (image uint8, mask or None) pairs. Returns one HeadStats per (layer, head)."""
    progress = progress or silent()
    model.eval()
    pre = Preprocess.from_meta(meta)
    device = next(model.parameters()).device
    layers = attention_layers(model)
    acc: HeadAccumulator | None = None
    done = 0

    def flush(images: list[torch.Tensor], masks: list[np.ndarray | None]) -> None:
        nonlocal acc, done
        received, entropy = received_attention(model, pre.normalise(torch.stack(images).to(device)))
        if acc is None:
            grids = [tuple(r.shape[-2:]) for r in received]
            acc = HeadAccumulator(grids, [m.alpha.detach().float().cpu().numpy() for _, m in layers], tolerance)
            acc.class_names = list(meta.class_names)
        for j, mask in enumerate(masks):
            acc.add([r[j] for r in received], [e[j] for e in entropy], mask)
        head_deletion(model, pre.normalise(torch.stack(images).to(device)), [m for _, m in layers], acc)
        done += len(images)
        progress.progress(done, 0, f"{done} images analysed")
        progress.check()

    images: list[torch.Tensor] = []
    masks: list[np.ndarray | None] = []
    for image, mask in items:
        images.append(pre.to_uint8(image))
        masks.append(None if mask is None else resize_mask(mask, pre.input_size))
        if len(images) == batch_size:
            flush(images, masks)
            images, masks = [], []
    if images:
        flush(images, masks)
    return acc.stats() if acc is not None else []


@torch.inference_mode()
def head_deletion(model: nn.Module, batch: torch.Tensor, attn: list, acc: HeadAccumulator) -> None:
    """Switch each head off in turn (alpha = 0, restored bit for bit) and record how much the
    predicted class's probability drops on every image of the batch."""
    probs = model(batch).float().softmax(-1)
    predicted = probs.argmax(-1)
    base = probs.gather(1, predicted[:, None])[:, 0]
    for i, m in enumerate(attn):
        for h in range(m.num_heads):
            saved = m.alpha[h].clone()
            try:
                m.alpha[h] = 0.0
                off = model(batch).float().softmax(-1).gather(1, predicted[:, None])[:, 0]
            finally:
                m.alpha[h] = saved
            acc.add_deletion(i, h, predicted.cpu().numpy(), (base - off).cpu().numpy())


def sort_for_display(stats: list[HeadStats]) -> list[HeadStats]:
    """Heads most drawn to defects first (lift, then pointing), NaN-safe."""
    def key(s: HeadStats) -> tuple:
        lift = s.lift if not np.isnan(s.lift) else -1.0
        pointing = s.pointing if not np.isnan(s.pointing) else -1.0
        return (-lift, -pointing, s.layer, s.head)
    return sorted(stats, key=key)
