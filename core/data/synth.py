"""Procedural brushed-metal images with defects, for the demo dataset.

Every image, whatever its class, is drawn from the same background process: brushing streaks at a
random angle, fine grain, low-frequency blotches, an illumination gradient and hotspot, a random
base level and a faint colour tint, then sensor noise. So the class is only visible in the defect
itself: a classifier cannot win on brightness, colour or texture statistics.

Defects are an additive field D on top of the background; the mask is where |D| is visible
(>= MASK_LEVEL), and `render_sample` also returns the clean background so that tests can check
that the mask covers exactly the pixels the defect changed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFECTS = ("scratch", "crack", "spot", "contamination")
CLASSES = ("good", *DEFECTS)

MASK_LEVEL = 3.0 / 255.0  # a defect changes a pixel by at least this much inside its mask


@dataclass(frozen=True, slots=True)
class Sample:
    image: np.ndarray  # uint8 (S, S, 3)
    mask: np.ndarray  # bool (S, S); all False for "good"
    clean: np.ndarray  # uint8 (S, S, 3): the same image without its defect


def render_sample(kind: str, rng: np.random.Generator, size: int = 224, strength: float = 1.0) -> Sample:
    """`strength` scales the defect's field: below 1, fainter and (through the mask threshold) smaller
    defects, the harder family bench/learning.py measures with --defect-strength (1: the demo's)."""
    if kind not in CLASSES:
        raise ValueError(f"unknown kind {kind!r}")
    grid = _Grid(size)
    background = _background(rng, grid)
    tint = (1.0 + rng.normal(0.0, 0.012, size=3)).astype(np.float32)
    sigma = np.float32(rng.uniform(0.004, 0.012))
    base = background.astype(np.float32)[..., None] * tint
    base += sigma * rng.standard_normal((size, size, 3), dtype=np.float32)
    clean = _to_uint8(base)
    if kind == "good":
        return Sample(clean, np.zeros((size, size), bool), clean)
    # A defect is a 2-D field times a colour: |delta| peaks over channels at |field| * max(colour).
    field, colour = _DEFECT_RENDERERS[kind](rng, grid, background)
    field = field.astype(np.float32)
    if strength != 1.0:
        field *= np.float32(strength)
    mask = np.abs(field) * float(np.abs(colour).max()) >= MASK_LEVEL
    return Sample(_to_uint8(base + field[..., None] * colour.astype(np.float32)), mask, clean)


class _Grid:
    """Pixel coordinates and FFT frequencies for one image size, computed once per image."""

    def __init__(self, size: int):
        self.size = size
        self.yy, self.xx = np.mgrid[0:size, 0:size].astype(np.float64)
        self.fy = np.fft.fftfreq(size)[:, None]
        self.fx = np.fft.rfftfreq(size)[None, :]


def _gaussian_filter(g: _Grid, sigma_along: float, sigma_across: float, theta: float = 0.0) -> np.ndarray:
    """An oriented Gaussian in frequency space, scaled so that filtered unit white noise has unit std."""
    c, s = np.cos(theta), np.sin(theta)
    u = g.fx * c + g.fy * s  # frequency along the brushing direction
    v = -g.fx * s + g.fy * c
    h = np.exp(-(u / sigma_along) ** 2 - (v / sigma_across) ** 2)
    # irfft2 of a half spectrum of complex unit-variance noise times h has variance ~ 4 sum(h^2) / N^4.
    return h * (g.size**2 / np.sqrt(4.0 * (h**2).sum()))


def _white_spectrum(rng: np.random.Generator, g: _Grid) -> np.ndarray:
    """The half spectrum of white noise, drawn directly: saves a forward FFT per field."""
    shape = (g.size, g.size // 2 + 1)
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _filtered_noise(rng: np.random.Generator, g: _Grid, sigma_along: float, sigma_across: float,
                    theta: float = 0.0) -> np.ndarray:
    """Smooth random field with about zero mean and unit standard deviation."""
    spectrum = _white_spectrum(rng, g) * _gaussian_filter(g, sigma_along, sigma_across, theta)
    spectrum[0, 0] = 0.0
    return np.fft.irfft2(spectrum, s=(g.size, g.size))


def _background(rng: np.random.Generator, g: _Grid) -> np.ndarray:
    theta = rng.uniform(0.0, np.pi)
    # Streaks, grain and blotches filter one white spectrum in mostly separate bands and are summed
    # before a single inverse FFT.
    spectrum = _white_spectrum(rng, g) * (
        rng.uniform(0.02, 0.05) * _gaussian_filter(g, rng.uniform(0.003, 0.01), rng.uniform(0.12, 0.3), theta)
        + rng.uniform(0.008, 0.02) * _gaussian_filter(g, 0.35, 0.35)
        + rng.uniform(0.01, 0.04) * _gaussian_filter(g, 0.012, 0.012))
    spectrum[0, 0] = 0.0
    img = rng.uniform(0.35, 0.62) + np.fft.irfft2(spectrum, s=(g.size, g.size))
    phi = rng.uniform(0.0, 2 * np.pi)
    ramp = (g.xx * np.cos(phi) + g.yy * np.sin(phi)) / g.size
    img += rng.uniform(0.0, 0.15) * (ramp - ramp.mean())
    cy, cx = rng.uniform(0, g.size, size=2)
    spread = g.size * rng.uniform(0.3, 0.8)
    img += rng.uniform(0.0, 0.12) * (np.exp(-((g.yy - cy) ** 2 + (g.xx - cx) ** 2) / (2 * spread**2)) - 0.5)
    return img


def _polyline_distance(points: np.ndarray, g: _Grid, margin: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """Distance from every pixel to a polyline (K, 2) in (y, x), and the curve parameter 0..1 there.

    Only pixels within `margin` of the polyline's bounding box are computed (the rest get +inf):
    the profiles drawn from it vanish well before that distance, and it keeps this cheap.
    """
    lo = np.clip(np.floor(points.min(axis=0) - margin), 0, g.size).astype(int)
    hi = np.clip(np.ceil(points.max(axis=0) + margin) + 1, 0, g.size).astype(int)
    yy = g.yy[lo[0]:hi[0], lo[1]:hi[1]]
    xx = g.xx[lo[0]:hi[0], lo[1]:hi[1]]
    a, b = points[:-1], points[1:]
    ab = b - a
    lengths2 = np.maximum((ab**2).sum(axis=1), 1e-9)
    py = yy[None] - a[:, 0, None, None]
    px = xx[None] - a[:, 1, None, None]
    t = np.clip((py * ab[:, 0, None, None] + px * ab[:, 1, None, None]) / lengths2[:, None, None], 0.0, 1.0)
    d2 = (py - t * ab[:, 0, None, None]) ** 2 + (px - t * ab[:, 1, None, None]) ** 2
    k = d2.argmin(axis=0)
    d = np.full((g.size, g.size), np.inf)
    u = np.zeros((g.size, g.size))
    d[lo[0]:hi[0], lo[1]:hi[1]] = np.sqrt(np.take_along_axis(d2, k[None], axis=0)[0])
    u[lo[0]:hi[0], lo[1]:hi[1]] = (k + np.take_along_axis(t, k[None], axis=0)[0]) / len(ab)
    return d, u


def _scratch(rng: np.random.Generator, g: _Grid, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A long, smooth, thin line: straight or gently curved, bright (specular) or dark (groove)."""
    s = g.size
    length = rng.uniform(0.18, 0.65) * s
    psi = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.sin(psi), np.cos(psi)])
    start = rng.uniform(0.1 * s, 0.9 * s, size=2)
    end = np.clip(start + length * direction, 4, s - 5)
    bend = np.array([-direction[1], direction[0]]) * rng.normal(0, 0.08 * length)
    t = np.linspace(0, 1, 20)[:, None]
    mid = (start + end) / 2 + bend
    pts = (1 - t) ** 2 * start + 2 * (1 - t) * t * mid + t**2 * end
    d, u = _polyline_distance(pts, g)
    width = rng.uniform(1.0, 2.4)
    contrast = rng.uniform(0.12, 0.3) * (1 if rng.random() < 0.65 else -1)
    taper = np.sin(np.pi * np.clip(u, 0, 1)) ** 0.4  # fades out at both ends
    field = contrast * taper * np.exp(-0.5 * (d / width) ** 2)
    return field, _GREY


def _walk(rng: np.random.Generator, start: np.ndarray, psi: float, steps: int, s: int) -> np.ndarray:
    angles = psi + np.cumsum(rng.normal(0, 0.45, size=steps)) * 0.5 + rng.normal(0, 0.5, size=steps)
    step = rng.uniform(2.5, 5.0, size=steps)
    moves = np.stack([np.sin(angles) * step, np.cos(angles) * step], axis=1)
    return np.clip(np.vstack([start, start + np.cumsum(moves, axis=0)]), 2, s - 3)


def _crack(rng: np.random.Generator, g: _Grid, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A jagged dark fissure, sometimes branched, with a faint bright lip."""
    s = g.size
    psi = rng.uniform(0, 2 * np.pi)
    main = _walk(rng, rng.uniform(0.15 * s, 0.85 * s, size=2), psi, int(rng.integers(14, 30)), s)
    d, _ = _polyline_distance(main, g)
    if rng.random() < 0.6:
        at = main[int(rng.integers(2, len(main) - 1))]
        branch = _walk(rng, at, psi + rng.choice([-1, 1]) * rng.uniform(0.5, 1.2), int(rng.integers(4, 12)), s)
        d = np.minimum(d, _polyline_distance(branch, g)[0])
    width = rng.uniform(0.8, 1.6)
    depth = rng.uniform(0.15, 0.35)
    field = -depth * np.exp(-0.5 * (d / width) ** 2) + 0.25 * depth * np.exp(-0.5 * ((d - 2.2 * width) / width) ** 2)
    return field, _GREY


def _spot(rng: np.random.Generator, g: _Grid, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One to three small round pits or bright weld spatters with soft edges."""
    s = g.size
    field = np.zeros((s, s))
    sign = 1 if rng.random() < 0.3 else -1
    centre = rng.uniform(0.12 * s, 0.88 * s, size=2)
    # Blobs stay within ~30 px of the centre and fade out by twice their radius (<= 11 px): draw
    # them in a window, not over the whole image.
    lo = np.clip(np.floor(centre - 60), 0, s).astype(int)
    hi = np.clip(np.ceil(centre + 60), 0, s).astype(int)
    window = field[lo[0]:hi[0], lo[1]:hi[1]]
    yy, xx = g.yy[lo[0]:hi[0], lo[1]:hi[1]], g.xx[lo[0]:hi[0], lo[1]:hi[1]]
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = centre + np.clip(rng.normal(0, 10, size=2), -30, 30)
        ry, rx = rng.uniform(3.5, 12, size=2)
        rot = rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        a = (dy * np.cos(rot) + dx * np.sin(rot)) / ry
        b = (-dy * np.sin(rot) + dx * np.cos(rot)) / rx
        r = np.sqrt(a**2 + b**2)
        blob = sign * rng.uniform(0.1, 0.28) / (1 + np.exp(np.minimum((r - 1) * 6, 50.0)))
        window[...] = np.where(np.abs(blob) > np.abs(window), blob, window)
    return field, _GREY


def _contamination(rng: np.random.Generator, g: _Grid, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An irregular stain (oil, residue): smooths out the brushing and shifts the tone locally."""
    s = g.size
    cy, cx = rng.uniform(0.2 * s, 0.8 * s, size=2)
    radius = rng.uniform(14, 34)
    r2 = ((g.yy - cy) ** 2 + (g.xx - cx) ** 2) / (2 * radius**2)
    shape = np.exp(-r2) + 0.4 * _filtered_noise(rng, g, 0.03, 0.03) * np.exp(-r2 / 4)
    cover = 1 / (1 + np.exp(np.clip(-(shape - 0.5) * 24, -50, 50)))
    # Flatten the brushing under the stain but keep the illumination: pull towards a low-pass copy.
    lowpass = np.fft.irfft2(np.fft.rfft2(background) * np.exp(-(g.fx**2 + g.fy**2) / 0.02**2), s=(s, s))
    smudge = 0.6 * (lowpass - background)
    dark = rng.random() < 0.65
    level = rng.uniform(0.1, 0.2) * (-1 if dark else 1)
    speckle = 0.035 * _filtered_noise(rng, g, 0.25, 0.25)  # grainy residue, unlike the brushing
    field = cover * (smudge + level + speckle)
    # Oil and rust darken blue most (a brown stain); dried residue lightens towards warm white.
    colour = np.array([0.7, 0.88, 1.0]) if dark else np.array([1.0, 0.95, 0.88])
    return field, colour


_GREY = np.ones(3)

_DEFECT_RENDERERS = {"scratch": _scratch, "crack": _crack, "spot": _spot, "contamination": _contamination}


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * np.float32(255.0)), 0, 255).astype(np.uint8)
