"""Adaptive multi-head attention: every head has a learnable scale alpha_i.

    head_i    = alpha_i * Attention(Q W_i^Q, K W_i^K, V W_i^V)
    MultiHead = Concat(head_1, ..., head_h) W^O

Heads are split from the channel dimension and attend over tokens, layout (B, heads, N, head_dim).
The fused path uses `F.scaled_dot_product_attention`; while a recorder is attached (see
`core.model.capture`) an explicit softmax is used so the probabilities can be observed.

`AttentionPool` is the classifier's attention pooling: one learned query per head attends over the
last stage's tokens, so its map says which tokens the decision looked at; it is an adaptive layer
too (alpha per head) and is captured like the others, with a single query row.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

Recorder = Callable[["AlphaAttention", torch.Tensor, tuple[int, int]], None]


class AlphaAttention(nn.Module):
    """What every attention layer of the model shares: heads, one alpha per head, a recorder slot."""

    def __init__(self, num_heads: int, head_dim: int):
        super().__init__()
        if num_heads < 1 or head_dim < 1:
            raise ValueError(f"need at least one head of at least one channel, got {num_heads} x {head_dim}")
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.scale = head_dim**-0.5
        self.alpha = nn.Parameter(torch.ones(num_heads))
        # Set by capture_attention(); a plain attribute so the fused path stays branch-cheap.
        self.recorder: Recorder | None = None

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """(B, heads, Nq, d) x (B, heads, N, d) -> alpha-scaled heads (B, heads, Nq, d)."""
        if self.recorder is None:
            heads = F.scaled_dot_product_attention(q, k, v)
        else:
            probs = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
            self.recorder(self, probs, grid)
            heads = probs @ v
        return heads * self.alpha.view(1, -1, 1, 1).to(heads.dtype)


class AdaptiveAttention(AlphaAttention):
    def __init__(self, dim: int, num_heads: int, head_dim: int | None = None, qkv_bias: bool = True):
        head_dim = head_dim or dim // num_heads
        if head_dim * num_heads == 0:
            raise ValueError(f"dim {dim} cannot be split into {num_heads} heads")
        super().__init__(num_heads, head_dim)
        inner = num_heads * head_dim
        self.qkv = nn.Linear(dim, 3 * inner, bias=qkv_bias)
        self.proj = nn.Linear(inner, dim)

    def forward(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """x: (B, N, C) tokens of an (h, w) grid, N = h * w."""
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        heads = self._attend(q, k, v, grid)
        return self.proj(heads.transpose(1, 2).reshape(b, n, -1))


class AttentionPool(AlphaAttention):
    """(B, N, C) tokens -> (B, C): per head, a learned query attends over the tokens.

    Keys are a projection of the tokens; each head's values are its own channel slice of the
    (normalised) tokens, so head i pools channels [i*d, (i+1)*d) with its own map and its alpha
    scales exactly that slice of the pooled vector. No value or output projection: the linear
    classifier that follows is one already (and the parameter budget of aan_s has no room for two).

    Salience prior: each head's logits also get beta_i times how far a token's slice lies from the
    image's mean slice (squared distance per channel). A learned query starts knowing nothing, so a
    plain attention pooling starts as mean pooling, and mean pooling dilutes a defect among 16-49
    background tokens until nothing is learned (measured: chance accuracy after 20 epochs on the demo
    data, where max pooling learns). With the prior the map starts on what stands out, the gradient
    reaches those tokens undiluted, and the query and beta (learned, may go to 0) take over.
    """

    def __init__(self, dim: int, num_heads: int, salience: float = 1.0):
        if dim % num_heads:
            raise ValueError(f"dim {dim} cannot be split into {num_heads} heads")
        super().__init__(num_heads, dim // num_heads)
        self.query = nn.Parameter(torch.zeros(1, num_heads, 1, self.head_dim))
        self.key = nn.Linear(dim, dim)
        self.beta = nn.Parameter(torch.full((num_heads,), float(salience)))

    def forward(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        b, n, c = x.shape
        k = self.key(x).view(b, n, self.num_heads, self.head_dim).transpose(1, 2)  # (B, heads, N, d)
        v = x.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)
        salience = (v - v.mean(dim=2, keepdim=True)).pow(2).mean(dim=-1)  # (B, heads, N)
        bias = (self.beta.view(1, -1, 1) * salience).unsqueeze(2).to(x.dtype)  # (B, heads, 1, N)
        q = self.query.expand(b, -1, -1, -1).to(x.dtype)
        if self.recorder is None:
            heads = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        else:
            probs = ((q * self.scale) @ k.transpose(-2, -1) + bias).softmax(dim=-1)
            self.recorder(self, probs, grid)
            heads = probs @ v
        heads = heads * self.alpha.view(1, -1, 1, 1).to(heads.dtype)  # (B, heads, 1, d)
        return heads.reshape(b, c)
