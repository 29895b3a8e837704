"""Head/defect alignment: attention forced onto the mask scores higher than uniform attention."""
import numpy as np
import pytest
import torch

from core.inference.heads import HeadAccumulator, analyse_heads, dilate, mask_alignment, resize_mask, sort_for_display
from core.model import create_model
from core.model.checkpoint import CheckpointMeta


def _received(grid, focus: np.ndarray | None, heads=2):
    """Received-attention maps (heads, h, w): all queries put their mass on `focus` tokens, or uniform."""
    h, w = grid
    n = h * w
    probs = np.full((heads, n, n), 1.0 / n)
    if focus is not None:
        cols = np.flatnonzero(focus.ravel())
        probs[:] = 0.0
        probs[:, :, cols] = 1.0 / len(cols)
    return probs.mean(axis=1).reshape(heads, h, w)


def test_focused_attention_beats_uniform():
    size, grid = 64, (4, 4)
    mask = np.zeros((size, size), bool)
    mask[16:32, 32:48] = True  # exactly token (1, 2) of the 4x4 grid
    focus = np.zeros(grid, bool)
    focus[1, 2] = True
    mass_f, hit_f = mask_alignment(_received(grid, focus), mask)
    mass_u, hit_u = mask_alignment(_received(grid, None), mask)
    np.testing.assert_allclose(mass_u, mask.mean(), atol=0.02)  # uniform = area share
    assert (mass_f > 0.5).all() and (mass_f > 3 * mass_u).all()
    assert hit_f.tolist() == [1.0, 1.0]
    assert hit_u.tolist() == [0.0, 0.0]  # a flat map points at token 0, outside the mask


def test_accumulator_averages_over_defect_images_only():
    grid = (2, 2)
    mask = np.zeros((32, 32), bool)
    mask[:16, :16] = True
    focus = np.array([[True, False], [False, False]])
    acc = HeadAccumulator([grid], [np.array([1.0, -0.5])], tolerance=0)
    acc.add([_received(grid, focus)], [np.array([0.1, 0.2])], mask)
    acc.add([_received(grid, None)], [np.array([0.3, 0.4])], None)  # a good image: entropy only
    stats = acc.stats()
    assert [s.head for s in stats] == [0, 1]
    assert stats[0].n_defect == 1 and stats[0].pointing == 1.0
    assert stats[0].entropy == pytest.approx(0.2) and stats[1].alpha == -0.5
    assert stats[0].lift == pytest.approx(stats[0].mask_mass / 0.25)
    assert stats[0].to_dict()["grid"] == [2, 2]


def test_no_defect_images_gives_nan_alignment():
    acc = HeadAccumulator([(2, 2)], [np.ones(1)])
    acc.add([_received((2, 2), None, heads=1)], [np.ones(1)], None)
    s = acc.stats()[0]
    assert np.isnan(s.mask_mass) and s.to_dict()["mask_mass"] is None
    assert [(s.layer, s.head) for s in sort_for_display(acc.stats())] == [(0, 0)]


def test_mask_helpers():
    m = np.zeros((9, 9), bool)
    m[4, 4] = True
    assert dilate(m, 1).sum() == 9 and dilate(m, 0).sum() == 1
    thin = np.zeros((100, 100), np.uint8)
    thin[50, :] = 255  # a 1-px scratch survives shrinking to 10x10
    assert resize_mask(thin, 10).any()


def _attend_to_bright_tokens(model: torch.nn.Module) -> None:
    """Make every head of every layer attend to tokens carrying a large first channel.

    Keys read channel 0 of the token and queries are constant, so the score of key j is
    proportional to x_j[0]; the stage's downsample conv is set to pass image brightness into channel 0.
    """
    with torch.no_grad():
        for stage in model.stages:
            for blk in stage.blocks:
                a = blk.attn
                inner = a.num_heads * a.head_dim
                a.qkv.weight.zero_()
                a.qkv.bias.zero_()
                a.qkv.bias[:inner] = 1.0  # q = 1
                a.qkv.weight[inner : 2 * inner, 0] = 50.0  # k = 50 * x[0]
                blk.norm1.weight.fill_(1.0)
                blk.norm1.bias.zero_()


def test_real_model_with_forced_attention_aligns_better_than_uniform():
    torch.manual_seed(0)
    meta = CheckpointMeta(arch="aan_t", class_names=["good", "bad"], in_chans=1, input_size=64, mean=(0.5,), std=(0.5,))
    uniform = create_model("aan_t", 2, in_chans=1).eval()
    with torch.no_grad():  # q = k = 0: every head attends uniformly
        for blk in [b for s in uniform.stages for b in s.blocks]:
            blk.attn.qkv.weight[: 2 * blk.attn.num_heads * blk.attn.head_dim].zero_()
            blk.attn.qkv.bias.zero_()
    forced = create_model("aan_t", 2, in_chans=1).eval()
    _attend_to_bright_tokens(forced)
    with torch.no_grad():  # identity-like stem/downsample: brightness reaches channel 0 of the tokens
        for m in forced.modules():
            if isinstance(m, torch.nn.Conv2d) and m.groups == 1:
                m.weight.zero_()
                m.weight[0, 0, 1, 1] = 1.0
            if isinstance(m, torch.nn.Conv2d) and m.groups > 1:
                m.weight.zero_()
    rng = np.random.default_rng(0)
    items = []
    for i in range(4):
        img = rng.integers(0, 20, (64, 64), dtype=np.uint8)
        mask = np.zeros((64, 64), bool)
        y, x = 16 * (i % 4), 16 * ((i + 1) % 4)
        mask[y : y + 16, x : x + 16] = True
        img[mask] = 255
        items.append((img, mask))
    s_forced = analyse_heads(forced, meta, items, batch_size=3)
    s_uniform = analyse_heads(uniform, meta, items, batch_size=3)
    first_f = [s for s in s_forced if s.layer == 0]
    first_u = [s for s in s_uniform if s.layer == 0]
    assert all(f.mask_mass > u.mask_mass + 0.3 for f, u in zip(first_f, first_u))
    assert all(f.pointing == 1.0 for f in first_f)
    assert all(u.mask_mass == pytest.approx(1 / 16, abs=0.02) for u in first_u)
    assert sort_for_display(s_forced)[0].layer == 0


def test_head_deletion_effect_is_zero_for_a_head_already_off_and_per_predicted_class():
    torch.manual_seed(0)
    meta = CheckpointMeta(arch="aan_t", class_names=["good", "bad", "ugly"], in_chans=1, input_size=64,
                          mean=(0.5,), std=(0.5,))
    model = create_model("aan_t", 3, in_chans=1).eval()
    with torch.no_grad():
        model.stages[0].blocks[0].attn.alpha[1] = 0.0  # switched off already: switching it off changes nothing
        model.head.weight.mul_(20)  # confident enough for the other heads to matter
    alphas = [a.detach().clone() for a in model.alphas()]
    rng = np.random.default_rng(0)
    items = [(rng.integers(0, 255, (64, 64), dtype=np.uint8), None) for _ in range(6)]
    stats = analyse_heads(model, meta, items, batch_size=4)
    by_head = {(s.layer, s.head): s for s in stats}
    assert by_head[(0, 1)].deletion_effect == 0.0
    assert any(abs(s.deletion_effect) > 1e-4 for s in stats)
    for s in stats:
        assert set(s.deletion_by_class) <= set(meta.class_names)
    assert all(torch.equal(a, b) for a, b in zip(alphas, model.alphas()))  # alphas restored bit for bit
