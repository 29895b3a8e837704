"""Formula-driven pretraining images: generated on the fly, deterministic per seed, no download.

After FractalDB (Kataoka et al., ACCV 2020, "Pre-training without Natural Images"): each category is
one random iterated function system (IFS), kept only if its attractor fills enough of its box; an
image of a category renders that IFS's attractor with the chaos game, its maps' parameters jittered
per image. The category is what the network must name.

What differs from FractalDB, because Inspector's images are inspection images: the fractal is drawn
as a *local anomaly on a surface*, not alone on black. It covers 6-40 % of the side, at a random
place, angle, contrast and sign, with a soft stroke, over a procedural texture (oriented streaks
like machined or brushed metal, isotropic grain, blotches, an illumination gradient). So the task
teaches what inspection needs: ignore the texture, find the small thing, tell its shape. None of
the demo's defect renderers (core.data.synth) is used: the demo stays a held-out task.

Speed: about 1-2 ms per 96 px image on one core (bench/pretrain_data.py), vectorised numpy.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

GENERATOR_VERSION = "formula-1"
MIN_FILL = 0.12  # share of a 32x32 grid an attractor must cover (FractalDB's filling-rate idea)


@dataclass(frozen=True, slots=True)
class IFS:
    maps: np.ndarray  # (K, 2, 3): [a b e; c d f]
    probs: np.ndarray  # (K,), sums to 1


def _rng(*parts: int | str) -> np.random.Generator:
    digest = hashlib.blake2b(",".join(map(str, parts)).encode(), digest_size=16).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


BURN_IN = 16  # chaos-game steps dropped per walker: with contraction <= MAX_SV, 0.85^16 < 0.08
MAX_SV = 0.85


def _chaos_points(ifs: IFS, rng: np.random.Generator, n: int, walkers: int = 512) -> np.ndarray:
    """About n points of the attractor: `walkers` chains in parallel, the first BURN_IN steps dropped."""
    steps = max(1, n // walkers) + BURN_IN
    k = rng.choice(len(ifs.probs), size=(steps, walkers), p=ifs.probs)
    m = ifs.maps
    a, b, e, c, d, f = (m[:, 0, 0], m[:, 0, 1], m[:, 0, 2], m[:, 1, 0], m[:, 1, 1], m[:, 1, 2])
    x, y = rng.uniform(-1, 1, size=walkers), rng.uniform(-1, 1, size=walkers)
    out = np.empty((steps - BURN_IN, 2, walkers))
    for t in range(steps):
        kt = k[t]
        x, y = a[kt] * x + b[kt] * y + e[kt], c[kt] * x + d[kt] * y + f[kt]
        if t >= BURN_IN:
            out[t - BURN_IN, 0], out[t - BURN_IN, 1] = x, y
    return out.transpose(0, 2, 1).reshape(-1, 2)


def _normalised(points: np.ndarray) -> np.ndarray | None:
    """Centred in its box and scaled so that the longer side spans 1."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = float((hi - lo).max())
    if not np.isfinite(span) or span < 1e-6:
        return None
    return (points - (lo + hi) / 2) / span


def _fill_rate(ifs: IFS, rng: np.random.Generator) -> float:
    p = _normalised(_chaos_points(ifs, rng, 4096))
    if p is None:
        return 0.0
    cells = np.clip(((p + 0.5) * 32).astype(int), 0, 31)
    return len(np.unique(cells[:, 0] * 32 + cells[:, 1])) / 1024.0


def categories(count: int, seed: int = 0) -> tuple[IFS, ...]:
    """`count` IFS categories, the same for the same (count, seed): each draws 2-4 contractive maps
    and is kept if its attractor fills at least MIN_FILL of its box. Found once per process."""
    return _categories(int(count), int(seed))


@lru_cache(maxsize=8)
def _categories(count: int, seed: int) -> tuple[IFS, ...]:
    found: list[IFS] = []
    attempt = 0
    while len(found) < count:
        rng = _rng("category", seed, attempt)
        attempt += 1
        k = int(rng.integers(2, 5))
        maps = rng.uniform(-1, 1, size=(k, 2, 3))
        det = np.abs(maps[:, 0, 0] * maps[:, 1, 1] - maps[:, 0, 1] * maps[:, 1, 0])
        sv = np.linalg.svd(maps[:, :, :2], compute_uv=False)
        if (sv[:, 0] > MAX_SV).any():  # too weakly contractive: the chaos game would settle slowly
            continue
        probs = (det + 0.02) / (det + 0.02).sum()
        ifs = IFS(maps, probs)
        if _fill_rate(ifs, rng) >= MIN_FILL:
            found.append(ifs)
    return tuple(found)


# --- surfaces -----------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _freqs(size: int) -> tuple[np.ndarray, np.ndarray]:
    return np.fft.fftfreq(size)[:, None], np.fft.rfftfreq(size)[None, :]


def _unit_filter(f: np.ndarray, size: int) -> np.ndarray:
    """Scale a half-spectrum filter so that it turns unit white noise into a field of unit std."""
    return f * (size**2 / np.sqrt(4.0 * (f**2).sum()))


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A procedural surface in about 0..1: streaks at a random angle, grain, blotches, a gradient."""
    fy, fx = _freqs(size)
    theta = rng.uniform(0, np.pi)
    u = fx * np.cos(theta) + fy * np.sin(theta)
    v = -fx * np.sin(theta) + fy * np.cos(theta)
    streak = np.exp(-(u / rng.uniform(0.004, 0.03)) ** 2 - (v / rng.uniform(0.08, 0.35)) ** 2)
    grain = np.exp(-(fx**2 + fy**2) / rng.uniform(0.15, 0.4) ** 2)
    blotch = np.exp(-(fx**2 + fy**2) / rng.uniform(0.01, 0.04) ** 2)
    stds = rng.dirichlet([1.0, 1.0, 1.0]) * rng.uniform(0.02, 0.08)  # the surface's own contrast
    spectrum = rng.standard_normal(streak.shape) + 1j * rng.standard_normal(streak.shape)
    spectrum = spectrum * sum(w * _unit_filter(f, size) for w, f in zip(stds, (streak, grain, blotch)))
    spectrum[0, 0] = 0
    img = np.fft.irfft2(spectrum, s=(size, size))
    yy, xx = np.mgrid[0:size, 0:size] / size
    phi = rng.uniform(0, 2 * np.pi)
    img += rng.uniform(0, 0.15) * ((xx - 0.5) * np.cos(phi) + (yy - 0.5) * np.sin(phi))
    return img + rng.uniform(0.3, 0.7)


def _stamp(ifs: IFS, rng: np.random.Generator, size: int) -> np.ndarray:
    """The category's attractor, its maps jittered, as a soft density in 0..1 on an (size, size) canvas."""
    jitter = ifs.maps * (1 + rng.uniform(-0.08, 0.08, size=ifs.maps.shape))
    points = _normalised(_chaos_points(IFS(jitter, ifs.probs), rng, 4096))
    if points is None:
        points = _normalised(_chaos_points(ifs, rng, 4096))
    # Large and clearly inked (FractalDB draws the attractor over the whole canvas): small faint
    # stamps on strong textures (0.06-0.4 of the side, amplitude 0.08-0.35) left a from-scratch
    # network at the chance loss for 60k images, 100 categories, 64 px.
    scale = size * rng.uniform(0.35, 0.85)
    angle = rng.uniform(0, 2 * np.pi)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    if rng.random() < 0.5:
        rot[:, 0] *= -1
    centre = rng.uniform(scale / 2 + 1, size - scale / 2 - 1, size=2)
    ij = np.rint(points @ rot.T * scale + centre).astype(int)
    ij = ij[((ij >= 0) & (ij < size)).all(axis=1)]
    density = np.bincount(ij[:, 0] * size + ij[:, 1], minlength=size * size).reshape(size, size).astype(float)
    # Saturate (a pixel hit a thousand times is as inked as one hit a few times), then a soft stroke.
    level = density[density > 0].mean() if (density > 0).any() else 1.0
    return _blur(1.0 - np.exp(-density / (0.5 * level)), rng.uniform(0.4, 1.2))


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian in image space (a frequency-space one rings on single hot pixels)."""
    r = max(1, int(np.ceil(2.5 * sigma)))
    t = np.arange(-r, r + 1)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(img, r, mode="constant")
    rows = sum(w * padded[:, i:i + img.shape[1]] for i, w in enumerate(k))
    return sum(w * rows[i:i + img.shape[0], :] for i, w in enumerate(k))


def render(category: int, index: int, *, size: int = 96, count: int = 1000, seed: int = 0,
           in_chans: int = 1) -> np.ndarray:
    """uint8 (size, size) or (size, size, 3): image `index` of `category`, the same every time."""
    ifs = categories(count, seed)[category]  # positional: one cache entry per (count, seed)
    rng = _rng("image", seed, category, index)
    surface = _texture(rng, size)
    stamp = _stamp(ifs, rng, size)
    amplitude = rng.uniform(0.2, 0.45) * (1 if rng.random() < 0.5 else -1)
    img = surface + amplitude * stamp
    img += rng.uniform(0.003, 0.015) * rng.standard_normal(img.shape)
    if in_chans == 3:
        tint = 1 + rng.normal(0, 0.05, size=3)
        colour = 1 + rng.normal(0, 0.25, size=3)  # the stamp's own colour differs from the surface's
        img = surface[..., None] * tint + (amplitude * stamp)[..., None] * colour
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


# --- as a training source -------------------------------------------------------------------------

VAL_INDEX_BASE = 1 << 40  # instance numbers of the held-out images: never drawn for training


def category_names(count: int) -> list[str]:
    return [f"formula-{i:04d}" for i in range(count)]


class FormulaImages:
    """Dataset of generated images for a DataLoader: item i of epoch e is category i % count, instance
    (e * per_epoch + i) // count, so every epoch draws new images and a resumed run redraws the same."""

    def __init__(self, count: int, per_epoch: int, size: int, in_chans: int, seed: int, *, held_out: bool = False):
        self.count, self.per_epoch, self.size, self.in_chans, self.seed = count, per_epoch, size, in_chans, seed
        self.held_out = held_out
        self.epoch = 0

    def __len__(self) -> int:
        return self.per_epoch

    def label(self, i: int) -> int:
        return i % self.count

    def __getitem__(self, i: int):
        import torch

        instance = (self.epoch * self.per_epoch + i) // self.count
        if self.held_out:
            instance = VAL_INDEX_BASE + i // self.count
        img = render(i % self.count, instance, size=self.size, count=self.count, seed=self.seed,
                     in_chans=self.in_chans)
        t = torch.from_numpy(img)
        t = t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1)
        return t.contiguous(), i % self.count, i
