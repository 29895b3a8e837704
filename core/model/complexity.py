"""Parameter and multiply-add counts. FlopCounterMode counts a multiply-add as 2 FLOPs.

FlopCounterMode has formulas for the CUDA kernels of scaled_dot_product_attention but not for the
CPU one (torch 2.14), so attention's Q·Kᵀ and P·V products counted as nothing here until they were
registered below: aan_s showed 0.310 GMACs where it costs 0.356 (the 45 M MACs of its attention
maps). Every count now includes them, whatever kernel runs."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count


def _cpu_sdpa_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


# The ops whose formula FlopCounterMode lacks; shapes of (query, key, value) as for the CUDA kernels.
_MISSING = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flops}


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.inference_mode()
def count_gmacs(model: nn.Module, input_size: int = 224, in_chans: int = 3) -> float:
    was_training = model.training
    model.eval()
    x = torch.zeros(1, in_chans, input_size, input_size)
    counter = FlopCounterMode(display=False, custom_mapping=_MISSING)
    with counter:
        model(x)
    model.train(was_training)
    return counter.get_total_flops() / 2 / 1e9
