"""Augmentation of whole batches as tensors, on the training device, per sample.

Inspection images are framed the same way every time and a defect can be a few pixels, so there are
no random crops that could cut it out. What varies on a line, and what this draws per image:
  - orientation: the part can be mounted any way up; flips and quarter turns (exact, no resampling);
  - fixture tolerance: a small rotation, scale and shift (one bilinear resampling, reflected edges);
  - lighting drift: brightness, contrast and gamma;
  - optics and sensor: a slight blur, additive noise.
No hue or saturation jitter: meaningless on grayscale and, on colour images, colour is often the
defect itself.

All random numbers come from a CPU generator the trainer seeds per optimiser step, so a run resumed
at step k draws exactly what the uninterrupted run drew there, on any device.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True, kw_only=True, slots=True)
class AugmentConfig:
    dihedral: bool = True  # flips and quarter turns (8 orientations)
    hflip: bool = False  # left-right flips only (when not dihedral: for scenes with an up)
    affine_p: float = 0.5  # share of images that get a small rotation / scale / shift
    rotate_deg: float = 10.0
    scale: float = 0.08  # +- relative
    translate: float = 0.04  # +- fraction of the side
    brightness: float = 0.08  # +- added, in 0..1 units
    contrast: float = 0.15  # +- relative
    gamma: float = 0.15  # +- relative to 1
    blur_p: float = 0.1
    blur_sigma: float = 0.8  # pixels, upper bound (drawn uniformly from 0.3 to this)
    noise_p: float = 0.2
    noise_std: float = 0.015  # upper bound, in 0..1 units

    def __post_init__(self) -> None:
        for name in ("affine_p", "blur_p", "noise_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"augment.{name} must be a probability in [0, 1]")
        for name in ("rotate_deg", "scale", "translate", "brightness", "contrast", "gamma", "blur_sigma", "noise_std"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
                raise ValueError(f"augment.{name} must be a finite number >= 0")
        if self.scale >= 1 or self.contrast >= 1 or self.gamma >= 1:
            raise ValueError("augment.scale, contrast and gamma must be below 1")


NO_AUGMENT = AugmentConfig(dihedral=False, affine_p=0.0, brightness=0.0, contrast=0.0, gamma=0.0, blur_p=0.0,
                           noise_p=0.0)


def augment_batch(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """(B, C, H, W) float in 0..1 -> the same shape, each image transformed on its own."""
    b = x.shape[0]
    if b == 0:
        return x

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen).to(x.device)

    if cfg.dihedral:
        x = _dihedral(x, torch.randint(0, 8, (b,), generator=gen).to(x.device))
    elif cfg.hflip:
        x = _dihedral(x, torch.randint(0, 2, (b,), generator=gen).to(x.device))
    if cfg.affine_p > 0:
        x = _small_affine(x, cfg, gen)
    if cfg.gamma > 0:
        g = 1.0 + cfg.gamma * (2 * rand(b) - 1)
        x = x.clamp_min(0.0).pow(g.view(-1, 1, 1, 1))
    if cfg.contrast > 0 or cfg.brightness > 0:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        c = 1.0 + cfg.contrast * (2 * rand(b) - 1)
        br = cfg.brightness * (2 * rand(b) - 1)
        x = (x - mean) * c.view(-1, 1, 1, 1) + mean + br.view(-1, 1, 1, 1)
    if cfg.blur_p > 0:
        x = _blur(x, cfg, gen)
    if cfg.noise_p > 0:
        on = (rand(b) < cfg.noise_p).float() * cfg.noise_std * rand(b)
        noise = torch.randn(x.shape, generator=gen).to(x.device)
        x = x + on.view(-1, 1, 1, 1) * noise
    return x.clamp(0.0, 1.0)


def _dihedral(x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """code in 0..7: bit 0 flips left-right, bit 1 flips up-down, bit 2 transposes (square images)."""
    def where(bit: int, y: torch.Tensor) -> torch.Tensor:
        mask = ((code >> bit) & 1).bool().view(-1, 1, 1, 1)
        return torch.where(mask, y, x)

    x = where(0, x.flip(-1))
    x = where(1, x.flip(-2))
    if x.shape[-1] == x.shape[-2]:
        x = where(2, x.transpose(-1, -2))
    return x


def _small_affine(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    b = x.shape[0]
    on = torch.rand(b, generator=gen) < cfg.affine_p
    n = int(on.sum())
    if n == 0:
        return x
    angle = torch.deg2rad(cfg.rotate_deg * (2 * torch.rand(n, generator=gen) - 1))
    scale = 1.0 + cfg.scale * (2 * torch.rand(n, generator=gen) - 1)
    shift = 2 * cfg.translate * (2 * torch.rand(n, 2, generator=gen) - 1)  # grid units span 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    idx = on.nonzero().squeeze(1).to(x.device)
    sub = x.index_select(0, idx)
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(sub.shape), align_corners=False)
    out = x.clone()
    out[idx] = F.grid_sample(sub, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return out


def _blur(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    b, c, h, w = x.shape
    on = torch.rand(b, generator=gen) < cfg.blur_p
    n = int(on.sum())
    if n == 0 or cfg.blur_sigma <= 0:
        return x
    lo = min(0.3, cfg.blur_sigma)
    sigma = lo + (cfg.blur_sigma - lo) * torch.rand(n, generator=gen)
    radius = max(1, math.ceil(2 * cfg.blur_sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t.view(1, -1) / sigma.view(-1, 1)) ** 2)
    k = (k / k.sum(1, keepdim=True)).to(x.device, x.dtype)  # (n, K), separable
    idx = on.nonzero().squeeze(1).to(x.device)
    sub = x.index_select(0, idx).reshape(1, n * c, h, w)
    kk = k.repeat_interleave(c, 0)
    sub = F.pad(sub, (radius, radius, radius, radius), mode="reflect")
    sub = F.conv2d(sub, kk.view(n * c, 1, 1, -1), groups=n * c)
    sub = F.conv2d(sub, kk.view(n * c, 1, -1, 1), groups=n * c)
    out = x.clone()
    out[idx] = sub.view(n, c, h, w)
    return out
