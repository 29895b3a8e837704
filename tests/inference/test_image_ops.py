"""core.image_ops against torchvision.transforms.v2.functional, which it replaces at start-up: the
same pixels bit for bit, so every checkpoint's preprocessing is unchanged; and the commands that
predict no longer import torchvision at all."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from core.image_ops import gaussian_blur, resize, rgb_to_gray

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
@pytest.mark.parametrize("src,dst", [((300, 217), (128, 128)), ((50, 61), (224, 224)), ((64, 64), (32, 48))])
def test_resize_gives_torchvisions_pixels(dtype, src, dst):
    g = torch.Generator().manual_seed(0)
    img = (torch.rand(3, *src, generator=g) * 255).to(dtype)
    want = TF.resize(img, list(dst), interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    got = resize(img, dst)
    assert got.dtype == dtype and got.shape == (3, *dst)
    assert torch.equal(got, want)
    batch = torch.stack([img, img.flip(-1)])
    assert torch.equal(resize(batch, dst)[1], resize(img.flip(-1), dst))


def test_resize_to_its_own_size_is_the_image():
    img = torch.zeros(1, 8, 8, dtype=torch.uint8)
    assert resize(img, (8, 8)) is img


def test_gray_gives_torchvisions_pixels():
    img = (torch.rand(3, 40, 30, generator=torch.Generator().manual_seed(1)) * 255).to(torch.uint8)
    want = TF.rgb_to_grayscale(img, num_output_channels=1)
    got = rgb_to_gray(img)
    assert got.dtype == torch.uint8 and torch.equal(got, want)


def test_blur_gives_torchvisions_values_and_refuses_even_kernels():
    x = torch.rand(5, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    want = TF.gaussian_blur(x, [9, 9], [1.5, 1.5])
    assert torch.allclose(gaussian_blur(x, 9, 1.5), want, atol=1e-6)
    assert not torch.allclose(gaussian_blur(x, 9, 1.5), x, atol=1e-2)
    with pytest.raises(ValueError, match="odd kernel"):
        gaussian_blur(x, 8, 1.5)


def test_prediction_does_not_import_torchvision():
    code = ("import sys; import core.inference.predict, core.inference.faithfulness, core.inference.preprocess; "
            "print('torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
