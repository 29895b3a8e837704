"""Token maps to image pixels: one bilinear resize in numpy, for the head statistics (core) and
the attention overlay (GUI thread, which must not need torch)."""
from __future__ import annotations

import numpy as np


def upsample_bilinear(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) or (..., h, w) -> (..., H, W) float32, pixel centres aligned (half-pixel centres,
    align_corners=False, as torch's interpolate and image resizers do).

    The model sees the whole image resized to its input square, so token (i, j) covers the same
    fraction of the image in both: the map stretches over the full image, whatever its aspect.
    """
    m = np.asarray(maps, dtype=np.float32)
    h, w = m.shape[-2:]
    big_h, big_w = (int(s) for s in size)
    ys = np.clip((np.arange(big_h) + 0.5) * h / big_h - 0.5, 0, h - 1)
    xs = np.clip((np.arange(big_w) + 0.5) * w / big_w - 0.5, 0, w - 1)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    fy = (ys - y0)[:, None].astype(np.float32)
    fx = (xs - x0)[None, :].astype(np.float32)
    top = m[..., y0, :][..., x0] * (1 - fx) + m[..., y0, :][..., x1] * fx
    bottom = m[..., y1, :][..., x0] * (1 - fx) + m[..., y1, :][..., x1] * fx
    return top * (1 - fy) + bottom * fy
