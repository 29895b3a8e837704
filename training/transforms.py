"""Augmentations (torchvision.transforms.v2).

Industrial images: the part is usually centred and framed the same way every time, and a defect is
often a few pixels, so no random crops that could cut it out. Flips and small rotations/shifts
cover fixture tolerance; brightness/contrast cover lighting drift. No saturation or hue jitter:
it is meaningless on grayscale and, on colour images, colour is often the defect itself.
The "imagenet" recipe is the classic RandomResizedCrop + flip used for training from scratch.
"""
from __future__ import annotations

import torch
from torchvision.transforms import v2

from training.config import FinetuneConfig


def train_transform(cfg: FinetuneConfig, mean, std) -> v2.Compose:
    s = cfg.input_size
    if cfg.augment == "imagenet":
        geometry = [v2.RandomResizedCrop(s, antialias=True), v2.RandomHorizontalFlip()]
    else:
        geometry = [
            v2.Resize((s, s), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomVerticalFlip(),
            v2.RandomAffine(degrees=10, translate=(0.05, 0.05), scale=(0.95, 1.05)),
            v2.ColorJitter(brightness=0.2, contrast=0.2),
        ]
    # Geometry on uint8 (4x less memory traffic than float), then scale and normalise once.
    return v2.Compose([v2.ToImage(), *geometry, v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)])


def eval_transform(cfg: FinetuneConfig, mean, std) -> v2.Compose:
    s = cfg.input_size
    if cfg.augment == "imagenet":
        resize = [v2.Resize(int(round(s / 0.875)), antialias=True), v2.CenterCrop(s)]
    else:
        resize = [v2.Resize((s, s), antialias=True)]
    return v2.Compose([v2.ToImage(), *resize, v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)])
