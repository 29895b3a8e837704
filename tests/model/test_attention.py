"""The adaptive attention against a plain reference written here, and the role of each alpha."""
import math

import pytest
import torch

from core.model.attention import AdaptiveAttention
from core.model.capture import capture_attention

torch.manual_seed(0)


def reference(attn: AdaptiveAttention, x: torch.Tensor) -> torch.Tensor:
    """softmax(Q K^T / sqrt(d)) V per head, each head times its alpha, concatenated, then W^O."""
    b, n, c = x.shape
    h, d = attn.num_heads, attn.head_dim
    w_qkv, b_qkv = attn.qkv.weight, attn.qkv.bias
    wq, wk, wv = w_qkv[: h * d], w_qkv[h * d : 2 * h * d], w_qkv[2 * h * d :]
    bq, bk, bv = b_qkv[: h * d], b_qkv[h * d : 2 * h * d], b_qkv[2 * h * d :]
    heads = []
    for i in range(h):
        sl = slice(i * d, (i + 1) * d)
        q = x @ wq[sl].T + bq[sl]
        k = x @ wk[sl].T + bk[sl]
        v = x @ wv[sl].T + bv[sl]
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
        heads.append(attn.alpha[i] * (a @ v))
    return torch.cat(heads, dim=-1) @ attn.proj.weight.T + attn.proj.bias


@pytest.fixture
def layer() -> AdaptiveAttention:
    return AdaptiveAttention(dim=48, num_heads=3, head_dim=16).double()


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(2, 20, 48, dtype=torch.float64)


def test_matches_reference_when_alphas_are_one(layer, x):
    assert torch.equal(layer.alpha, torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(layer(x, (4, 5)), reference(layer, x))


def test_capture_path_matches_fused_path(layer, x):
    fused = layer(x, (4, 5))
    with capture_attention(layer) as cap:
        explicit = layer(x, (4, 5))
    torch.testing.assert_close(explicit, fused)
    assert cap[0].probs.shape == (2, 3, 20, 20)


def test_scaling_alpha_scales_exactly_that_head(layer, x):
    bias = layer.proj.bias.detach().clone()

    def contribution() -> torch.Tensor:
        return layer(x, (4, 5)).detach() - bias

    with torch.no_grad():
        layer.alpha.copy_(torch.tensor([1.0, 0.0, 0.0]))
        head0 = contribution()
        layer.alpha.copy_(torch.tensor([0.0, 1.0, 0.0]))
        head1 = contribution()
        layer.alpha.copy_(torch.tensor([0.0, 0.0, 1.0]))
        head2 = contribution()
        layer.alpha.copy_(torch.tensor([2.5, 1.0, 1.0]))
        scaled = contribution()
        layer.alpha.copy_(torch.tensor([1.0, 0.0, 1.0]))
        removed = contribution()
    torch.testing.assert_close(scaled, 2.5 * head0 + head1 + head2)
    torch.testing.assert_close(removed, head0 + head2)
    assert not torch.allclose(removed, head0 + head1 + head2)


def test_gradients_reach_every_alpha(layer, x):
    layer(x, (4, 5)).pow(2).sum().backward()
    assert layer.alpha.grad is not None
    assert torch.all(layer.alpha.grad.abs() > 0)


def test_heads_attend_over_tokens_not_over_heads(layer, x):
    """Permuting tokens permutes the output the same way: attention mixes tokens, never heads."""
    perm = torch.randperm(20)
    torch.testing.assert_close(layer(x[:, perm], (4, 5)), layer(x, (4, 5))[:, perm])
