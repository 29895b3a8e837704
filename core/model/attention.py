"""Adaptive multi-head self-attention: every head has a learnable scale alpha_i.

    head_i    = alpha_i * Attention(Q W_i^Q, K W_i^K, V W_i^V)
    MultiHead = Concat(head_1, ..., head_h) W^O

Heads are split from the channel dimension and attend over tokens, layout (B, heads, N, head_dim).
The fused path uses `F.scaled_dot_product_attention`; while a recorder is attached (see
`core.model.capture`) an explicit softmax is used so the probabilities can be observed.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

Recorder = Callable[["AdaptiveAttention", torch.Tensor, tuple[int, int]], None]


class AdaptiveAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int, head_dim: int | None = None, qkv_bias: bool = True):
        super().__init__()
        head_dim = head_dim or dim // num_heads
        if head_dim * num_heads == 0:
            raise ValueError(f"dim {dim} cannot be split into {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.scale = head_dim**-0.5
        inner = num_heads * head_dim
        self.qkv = nn.Linear(dim, 3 * inner, bias=qkv_bias)
        self.alpha = nn.Parameter(torch.ones(num_heads))
        self.proj = nn.Linear(inner, dim)
        # Set by capture_attention(); a plain attribute so the fused path stays branch-cheap.
        self.recorder: Recorder | None = None

    def forward(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """x: (B, N, C) tokens of an (h, w) grid, N = h * w."""
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        if self.recorder is None:
            heads = F.scaled_dot_product_attention(q, k, v)
        else:
            probs = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
            self.recorder(self, probs, grid)
            heads = probs @ v
        heads = heads * self.alpha.view(1, -1, 1, 1).to(heads.dtype)
        return self.proj(heads.transpose(1, 2).reshape(b, n, -1))
