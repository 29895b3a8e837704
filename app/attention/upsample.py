"""Token maps to image pixels (numpy, so the GUI thread never needs torch)."""
from __future__ import annotations

import numpy as np


def upsample_bilinear(grid_map: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an (h, w) token map to (H, W) pixels, pixel centres aligned (align_corners=False).

    The model sees the whole image resized to its input square, so token (i, j) covers the same
    fraction of the image in both: the map stretches over the full image, whatever its aspect.
    """
    h, w = grid_map.shape
    H, W = size
    ys = np.clip((np.arange(H) + 0.5) * h / H - 0.5, 0, h - 1)
    xs = np.clip((np.arange(W) + 0.5) * w / W - 0.5, 0, w - 1)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    fy = (ys - y0)[:, None]
    fx = (xs - x0)[None, :]
    m = grid_map.astype(np.float32)
    top = m[y0][:, x0] * (1 - fx) + m[y0][:, x1] * fx
    bottom = m[y1][:, x0] * (1 - fx) + m[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy



MAX_OVERLAY_SIDE = 1024


def overlay_size(image_size: tuple[int, int], max_side: int = MAX_OVERLAY_SIDE) -> tuple[int, int]:
    """Pixel size of the overlay: the image's own up to `max_side`, else scaled down keeping the
    aspect (a 20 MP camera image would cost 80 MB and a visible pause per head switch). The view
    stretches it over the full image either way, so it stays aligned."""
    H, W = image_size
    scale = min(1.0, max_side / max(H, W))
    return max(1, round(H * scale)), max(1, round(W * scale))
