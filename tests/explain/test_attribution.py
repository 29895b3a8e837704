"""Gradient-weighted relevance: the constructed case ranks its token first, a head with α = 0
contributes nothing, and every method gives a normalised map on the first attention grid."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.inference.attribution import METHODS, explanation_map, propagate, relevance
from core.model import create_model


def test_propagation_ranks_the_token_the_decision_rests_on_first():
    """A constructed two-layer stack on a 4x4 grid, then a 2x2 grid: every query's gradient-weighted
    attention goes to fine token 5 in the first layer, and to the coarse token holding it in the
    second: 5 must come first, then its three siblings."""
    n_fine, n_coarse = 16, 4
    first = torch.zeros(2, n_fine, n_fine)
    first[:, :, 5] = 0.5  # ReLU(∇A ⊙ A) of two heads, all on token 5
    second = torch.zeros(2, n_coarse, n_coarse)
    second[:, :, 0] = 0.3  # coarse token 0 covers fine tokens 0, 1, 4, 5
    m = propagate([(first, (4, 4), False), (second, (2, 2), False)])
    assert m.shape == (4, 4) and np.isclose(m.sum(), 1.0)
    order = np.argsort(-m.ravel())
    assert order[0] == 5
    assert set(order[1:4]) == {0, 1, 4}


def test_propagation_through_attention_pooling_follows_its_row():
    blocks = torch.zeros(1, 4, 4)
    pool = torch.zeros(1, 1, 4)
    pool[0, 0, 2] = 1.0  # the pooling's gradient-weighted attention: all on token 2
    m = propagate([(blocks, (2, 2), False), (pool, (2, 2), True)])
    assert np.argmax(m) == 2 and np.isclose(m.ravel()[2], 1.0)


def test_a_head_with_alpha_zero_contributes_nothing():
    torch.manual_seed(0)
    model = create_model("aan_t", 3, in_chans=1).eval()
    x = torch.randn(1, 1, 64, 64)
    before = relevance(model, x, target=1)
    assert all(p.max() > 0 for p in before.per_head[0])  # every head of layer 0 carries relevance
    with torch.no_grad():
        model.stages[0].blocks[0].attn.alpha[1] = 0.0
    after = relevance(model, x, target=1)
    assert np.all(after.per_head[0][1] == 0)  # exactly nothing from the switched-off head
    assert after.per_head[0][0].max() > 0


def test_relevance_depends_on_the_class():
    torch.manual_seed(0)
    model = create_model("aan_t", 3, in_chans=1).eval()
    x = torch.randn(1, 1, 64, 64)
    a, b = relevance(model, x, target=0), relevance(model, x, target=2)
    assert a.target == 0 and b.target == 2 and not np.allclose(a.map, b.map)
    assert relevance(model, x).target == int(np.argmax(a.probs))  # default: the predicted class
    with pytest.raises(ValueError):
        relevance(model, x, target=3)


@pytest.mark.parametrize("pool", ["lse", "attn"])
def test_every_method_gives_a_normalised_map(pool):
    torch.manual_seed(0)
    model = create_model("aan_t", 2, in_chans=3, pool=pool).eval()
    x = torch.randn(1, 3, 64, 64)
    for method in METHODS:
        m = explanation_map(method, model, x)
        assert m.shape == (4, 4) and np.isclose(m.sum(), 1.0) and (m >= 0).all(), method
    assert np.array_equal(explanation_map("random", model, x, seed=3), explanation_map("random", model, x, seed=3))
    assert not np.array_equal(explanation_map("random", model, x, seed=3), explanation_map("random", model, x, seed=4))
