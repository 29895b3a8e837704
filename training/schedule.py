"""Learning-rate schedule: linear warm-up then cosine decay, stepped once per optimiser step.

A LambdaLR over a plain function of the step: its state_dict holds only numbers, so it loads with
torch.load(weights_only=True), and the shape is recomputed from the config on resume.
"""
from __future__ import annotations

import math
from functools import partial

import torch


def warmup_cosine(step: int, *, warmup_steps: int, total_steps: int, min_factor: float = 0.01) -> float:
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    progress = min(1.0, max(0.0, progress))
    return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(optimizer: torch.optim.Optimizer, *, warmup_steps: int, total_steps: int, min_factor: float = 0.01):
    fn = partial(warmup_cosine, warmup_steps=warmup_steps, total_steps=total_steps, min_factor=min_factor)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, fn)
