"""Attention evidence on a real (tiny, untrained) model: maps, contributions, rollout, ablation."""
import numpy as np
import pytest
import torch

from core.inference.attention_explainer import AttentionExplainer, attention_rollout, coarsen_matrix, token_index
from core.inference.upsample import upsample_bilinear
from core.model import capture_attention, create_model
from core.model.checkpoint import CheckpointMeta


@pytest.fixture(scope="module")
def explainer() -> AttentionExplainer:
    torch.manual_seed(0)
    model = create_model("aan_t", 3, in_chans=1).eval()
    # Untrained alphas are all 1; spread them so fusion weights and contributions differ.
    with torch.no_grad():
        for a in model.alphas():
            a.copy_(torch.linspace(0.2, 1.5, len(a)))
    meta = CheckpointMeta(arch="aan_t", class_names=["good", "scratch", "dent"], in_chans=1,
                          input_size=64, mean=(0.5,), std=(0.25,))
    return AttentionExplainer(model, meta)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 60, (80, 96), dtype=np.uint8)
    img[20:40, 50:70] = 250
    return img


def test_analyse_shapes_and_probabilities(explainer, image):
    ev = explainer.analyse(image)
    assert ev.probs.shape == (3,) and ev.probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert ev.image_size == (80, 96)
    assert [le.grid for le in ev.layers] == [(4, 4), (2, 2)]  # 64 px: /16 and /32
    for le, alpha in zip(ev.layers, explainer.model.alphas()):
        n = le.grid[0] * le.grid[1]
        assert le.attention.shape == (le.num_heads, n, n)
        np.testing.assert_allclose(le.attention.sum(-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(le.received, le.attention.mean(axis=1).reshape(le.num_heads, *le.grid), atol=1e-7)
        np.testing.assert_array_equal(le.alpha, alpha.detach().numpy())
        assert (le.entropy > 0).all() and (le.entropy <= np.log(n) + 1e-5).all()
    # Same probabilities as a plain forward pass (fused attention), within float tolerance.
    x = explainer.pre.tensor(image)
    with torch.no_grad():
        plain = explainer.model(x).softmax(-1)[0].numpy()
    np.testing.assert_allclose(ev.probs, plain, atol=1e-5)


def test_contribution_is_norm_of_alpha_times_attention_times_values(explainer, image):
    ev = explainer.analyse(image)
    x = explainer.pre.tensor(image)
    attn = [m for m in explainer.model.modules() if type(m).__name__ == "AdaptiveAttention"][0]
    seen = {}

    def keep_input(_mod, args):
        seen["x"] = args[0]

    handle = attn.register_forward_pre_hook(keep_input)
    try:
        with torch.no_grad(), capture_attention(explainer.model) as cap:
            explainer.model(x)
    finally:
        handle.remove()
    nh, hd = attn.num_heads, attn.head_dim
    v = attn.qkv(seen["x"])[0, :, 2 * nh * hd :].view(-1, nh, hd).transpose(0, 1)  # (heads, N, hd)
    a = cap.layers[0].probs[0]
    expected = (attn.alpha.view(-1, 1, 1) * (a @ v)).norm(dim=-1).mean(-1)
    np.testing.assert_allclose(ev.layers[0].contribution, expected.detach().numpy(), rtol=1e-4)
    assert ev.layers[0].contribution[0] < ev.layers[0].contribution[-1]  # alpha 0.2 vs 1.5 on similar heads


def test_query_map_is_the_captured_row_of_that_token(explainer, image):
    ev = explainer.analyse(image)
    with torch.no_grad(), capture_attention(explainer.model) as cap:
        explainer.model(explainer.pre.tensor(image))
    # Pixel (y=30, x=60) of an 80x96 image on a 4x4 grid: row 30*4/80 = 1, column 60*4/96 = 2 -> token 6.
    assert token_index((4, 4), (80, 96), 30, 60) == 6
    qm = explainer.query_map(ev, 0, 30, 60)
    np.testing.assert_allclose(qm, cap.layers[0].probs[0, :, 6, :].reshape(-1, 4, 4).numpy(), atol=1e-6)
    # Corners map to the first and last tokens, even on the far edge.
    assert token_index((2, 2), (80, 96), 79.9, 95.9) == 3 and token_index((2, 2), (80, 96), 0, 0) == 0


def test_ablation_none_is_bit_identical_and_model_unchanged(explainer, image):
    before = {k: v.clone() for k, v in explainer.model.state_dict().items()}
    ev = explainer.analyse(image)
    same = explainer.ablate(image, set())
    np.testing.assert_array_equal(same, ev.probs)
    layer0 = {(0, h) for h in range(explainer.model.alphas()[0].numel())}
    off = explainer.ablate(image, layer0)
    assert np.abs(off - ev.probs).max() > 1e-4
    with pytest.raises(ValueError):
        explainer.ablate(image, {(0, 99)})
    after = explainer.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    np.testing.assert_array_equal(explainer.ablate(image, set()), ev.probs)


def test_ablation_matches_a_model_without_those_heads(explainer, image):
    ev_off = explainer.ablate(image, {(1, 0), (1, 2)})
    model = explainer.model
    saved = model.alphas()[1].detach().clone()
    try:
        with torch.no_grad():
            model.alphas()[1][[0, 2]] = 0.0
            expected = model(explainer.pre.tensor(image)).softmax(-1)[0].numpy()
    finally:
        with torch.no_grad():
            model.alphas()[1].copy_(saved)
    np.testing.assert_allclose(ev_off, expected, atol=1e-5)


def test_rollout_is_a_distribution_on_the_finest_grid(explainer, image):
    ev = explainer.analyse(image)
    r = explainer.rollout(ev)
    assert r.shape == (4, 4) and r.sum() == pytest.approx(1.0) and (r >= 0).all()


def test_rollout_by_hand_on_one_layer():
    from core.inference.attention_explainer import LayerEvidence

    a = np.array([[[0.0, 1.0], [0.0, 1.0]]])  # one head, both queries look at token 1
    le = LayerEvidence(0, "x", (1, 2), a, a.mean(1).reshape(1, 1, 2), np.array([2.0]), np.ones(1), np.ones(1), np.ones(1))
    # (A + I) rows normalised: [[.5, .5], [0, 1]]; mean over rows -> [.25, .75]
    np.testing.assert_allclose(attention_rollout([le]), [[0.25, 0.75]])
    # A head switched off: identity only, uniform map.
    le.alpha = np.array([0.0])
    np.testing.assert_allclose(attention_rollout([le]), [[0.5, 0.5]])


def test_coarsen_matrix_averages_children():
    p = coarsen_matrix((4, 4), (2, 2))
    assert p.shape == (4, 16)
    np.testing.assert_allclose(p.sum(1), 1.0)
    assert set(np.flatnonzero(p[0])) == {0, 1, 4, 5}
    p = coarsen_matrix((3, 3), (2, 2))  # odd grid (stride-2 conv rounds up): every fine token has a parent
    np.testing.assert_allclose(p.sum(0) > 0, True)


def test_upsample_bilinear_keeps_constant_and_shape():
    m = np.full((2, 3, 3), 0.5, dtype=np.float32)
    up = upsample_bilinear(m, (30, 20))
    assert up.shape == (2, 30, 20)
    np.testing.assert_allclose(up, 0.5, atol=1e-6)
    ramp = upsample_bilinear(np.array([[0.0, 1.0]]), (1, 4))
    np.testing.assert_allclose(ramp, [[0.0, 0.25, 0.75, 1.0]])
