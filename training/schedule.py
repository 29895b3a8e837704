"""Learning-rate schedule: linear warm-up then cosine decay, stepped once per optimiser step.

A LambdaLR over a plain function of the step: its state_dict holds only numbers, so it loads with
torch.load(weights_only=True), and the shape is recomputed from the config on resume.
"""
from __future__ import annotations

import math
from functools import partial

import torch

MIN_FACTOR = 0.01  # cosine ends at 1% of the peak rather than 0: the last steps still learn


def warmup_cosine(step: int, *, warmup_steps: int, total_steps: int) -> float:
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    progress = min(1.0, max(0.0, progress))
    return MIN_FACTOR + (1 - MIN_FACTOR) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(optimizer: torch.optim.Optimizer, *, warmup_steps: int, total_steps: int):
    fn = partial(warmup_cosine, warmup_steps=warmup_steps, total_steps=total_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, fn)
