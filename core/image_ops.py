"""The image operations that prediction needs, on plain torch: antialiased bilinear resize, RGB to
luma, Gaussian blur.

Why not torchvision.transforms.v2.functional, which does the same: importing it imports all of
torchvision (its models, ops and torch._dynamo), about as long as importing torch itself, and every
`inspector` command, torchrun worker and the window pay that at start. These three functions give
torchvision's results bit for bit (tests/inference/test_image_ops.py compares them), so predictions, the
attention maps and every checkpoint's preprocessing stay what they were. torchvision stays for the
benchmark's peers and the ImageNet-style folder reader (its class listing), which import it where they
need it.
"""
from __future__ import annotations

import functools
import platform

import torch
import torch.nn.functional as F


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(..., C, H, W) uint8 or float -> (..., C, h, w), antialiased bilinear (torchvision's resize)."""
    if tuple(image.shape[-2:]) == tuple(size) or image.numel() == 0:
        return image
    lead, (c, h, w) = image.shape[:-3], image.shape[-3:]
    x = image.reshape(-1, c, h, w)
    native = image.dtype in (torch.float32, torch.float64) or (
        image.dtype == torch.uint8 and image.device.type == "cpu" and _native_uint8_on_cpu())
    out = F.interpolate(x if native else x.float(), size=list(size), mode="bilinear", align_corners=False,
                        antialias=True)
    if not native:
        out = out.round_().to(image.dtype)
    return out.reshape(*lead, c, *size)


@functools.cache  # asked once per process, not for every image
def _native_uint8_on_cpu() -> bool:
    """torch resizes uint8 itself where it has the vector kernels (torchvision's own test); elsewhere
    through float32, rounded back."""
    return torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512") or platform.machine() in ("aarch64", "arm64")


def rgb_to_gray(image: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) -> (..., 1, H, W) ITU-R 601 luma, same dtype (torchvision's weights; uint8 truncates)."""
    r, g, b = image.unbind(dim=-3)
    luma = r.mul(0.2989).add_(g, alpha=0.587).add_(b, alpha=0.114)
    return luma.unsqueeze(-3).to(image.dtype)


def gaussian_blur(image: torch.Tensor, kernel_size: int, sigma: float) -> torch.Tensor:
    """(..., C, H, W) float -> blurred, reflect padding (torchvision's kernel: softmax of -(x / sigma)^2
    over x in +-(k - 1) / (2 sqrt 2))."""
    if kernel_size % 2 == 0 or kernel_size < 1 or sigma <= 0:
        raise ValueError(f"need an odd kernel size and a positive sigma, got {kernel_size} and {sigma}")
    lead, (c, h, w) = image.shape[:-3], image.shape[-3:]
    lim = (kernel_size - 1) / (2.0 * 2.0**0.5)
    x = torch.linspace(-lim, lim, steps=kernel_size, dtype=image.dtype, device=image.device)
    k1 = torch.softmax(x.div(sigma).pow(2).neg(), dim=0)
    kernel = (k1.unsqueeze(-1) * k1).expand(c, 1, kernel_size, kernel_size)
    pad = kernel_size // 2
    out = F.conv2d(F.pad(image.reshape(-1, c, h, w), [pad] * 4, mode="reflect"), kernel, groups=c)
    return out.reshape(*lead, c, h, w)
