"""Parameter and multiply-add counts. FlopCounterMode counts a multiply-add as 2 FLOPs."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.inference_mode()
def count_gmacs(model: nn.Module, input_size: int = 224, in_chans: int = 3) -> float:
    was_training = model.training
    model.eval()
    x = torch.zeros(1, in_chans, input_size, input_size)
    counter = FlopCounterMode(display=False)
    with counter:
        model(x)
    model.train(was_training)
    return counter.get_total_flops() / 2 / 1e9
