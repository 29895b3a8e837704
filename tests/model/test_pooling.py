"""The classifier's pooling is a model option: every choice works at any size and channel count;
attention pooling is an adaptive attention layer of its own, captured like the others."""
import pytest
import torch

from core.model import POOLS, capture_attention, create_model
from core.model.checkpoint import CheckpointMeta, load_checkpoint, read_metadata, save_checkpoint


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("size,in_chans", [(64, 1), (96, 3), (160, 1)])
def test_every_pooling_any_size_gray_or_rgb(pool, size, in_chans):
    torch.manual_seed(0)
    model = create_model("aan_t", num_classes=4, in_chans=in_chans, pool=pool).eval()
    x = torch.randn(2, in_chans, size, size)
    with torch.inference_mode():
        feats = model.forward_features(x)
        pooled = model.forward_head(feats, pre_logits=True)
        logits = model(x)
        head = model.forward_head(feats)
    assert feats.shape == (2, model.num_features, size // 32, size // 32)
    assert pooled.shape == (2, model.num_features)
    assert logits.shape == (2, 4) and torch.isfinite(logits).all()
    assert torch.equal(head, logits)


def test_attention_pooling_is_captured_as_the_last_layer_with_rows_summing_to_one():
    torch.manual_seed(0)
    model = create_model("aan_t", num_classes=3, pool="attn").eval()
    with torch.no_grad():
        model.pool.query.normal_()  # a trained-looking, non-uniform query
    x = torch.randn(2, 3, 128, 128)
    with torch.inference_mode():
        plain = model(x)
        with capture_attention(model) as cap:
            captured = model(x)
    torch.testing.assert_close(captured, plain, rtol=1e-4, atol=1e-5)
    assert len(cap) == len(model.alphas()) == 3  # two blocks, then the pooling
    last = cap[-1]
    assert last.is_pooling and not cap[0].is_pooling and last.name == "pool"
    assert last.probs.shape == (2, model.pool.num_heads, 1, 16) and last.grid == (4, 4)
    torch.testing.assert_close(last.probs.sum(-1), torch.ones(2, model.pool.num_heads, 1))
    assert last.probs.std() > 0  # not uniform: the query decides where it looks


def test_alpha_of_a_pooling_head_scales_exactly_its_slice_of_the_pooled_vector():
    torch.manual_seed(0)
    model = create_model("aan_t", num_classes=3, pool="attn").eval()
    x = torch.randn(1, 3, 96, 96)
    d = model.pool.head_dim
    with torch.inference_mode():
        feats = model.forward_features(x)
        before = model.forward_head(feats, pre_logits=True)
        model.pool.alpha[1] = 2.5
        after = model.forward_head(feats, pre_logits=True)
        model.pool.alpha[1] = 0.0
        off = model.forward_head(feats, pre_logits=True)
    torch.testing.assert_close(after[:, d:2 * d], 2.5 * before[:, d:2 * d])
    assert torch.equal(after[:, :d], before[:, :d]) and torch.equal(after[:, 2 * d:], before[:, 2 * d:])
    assert torch.count_nonzero(off[:, d:2 * d]) == 0


def test_attention_pooling_starts_on_the_token_that_stands_out():
    """At initialisation (zero query) the salience prior puts each head's attention on the outlier
    token; without the prior (beta = 0) it would be plain mean pooling."""
    from core.model.attention import AttentionPool

    torch.manual_seed(0)
    pool = AttentionPool(64, 4).eval()
    background = torch.randn(64) + 0.2 * torch.randn(1, 16, 64)  # one surface, a little texture
    background[0, 9] = torch.randn(64)  # the defect token
    tokens = torch.nn.functional.layer_norm(background, (64,))
    probs = {}
    pool.recorder = lambda _m, p, _g: probs.__setitem__("p", p)
    with torch.no_grad():
        pool(tokens, (4, 4))
        assert (probs["p"][0, :, 0].argmax(-1) == 9).all()
        pool.beta.zero_()
        pool(tokens, (4, 4))
    torch.testing.assert_close(probs["p"], torch.full_like(probs["p"], 1 / 16))


def test_fused_and_recorded_attention_pooling_agree():
    torch.manual_seed(0)
    model = create_model("aan_t", num_classes=3, pool="attn").eval()
    with torch.no_grad():
        model.pool.query.normal_()
        model.pool.beta.uniform_(0.5, 2.0)
    x = torch.randn(3, 3, 96, 96)
    with torch.inference_mode():
        fused = model(x)
        with capture_attention(model):
            explicit = model(x)
    torch.testing.assert_close(fused, explicit, rtol=1e-4, atol=1e-5)


def test_checkpoints_record_their_pooling(tmp_path):
    model = create_model("aan_t", num_classes=2, in_chans=1, pool="lse")
    meta = CheckpointMeta(arch="aan_t", class_names=["a", "b"], in_chans=1, input_size=64, mean=(0.5,), std=(0.2,))
    save_checkpoint(tmp_path / "m.safetensors", model, meta)
    assert read_metadata(tmp_path / "m.safetensors").model["pool"] == "lse"
    loaded, _ = load_checkpoint(tmp_path / "m.safetensors")
    assert loaded.config.pool == "lse"


def test_reset_classifier_and_adapt_input_channels_keep_the_features():
    torch.manual_seed(0)
    model = create_model("aan_t", num_classes=5, in_chans=3, pool="attn").eval()
    rgb = torch.rand(1, 1, 64, 64).expand(1, 3, 64, 64)  # a gray image as RGB
    with torch.inference_mode():
        want = model.forward_head(model.forward_features(rgb), pre_logits=True)
        model.reset_classifier(2)
        model.adapt_input_channels(1)
        got = model.forward_head(model.forward_features(rgb[:, :1]), pre_logits=True)
        assert model(rgb[:, :1]).shape == (1, 2)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_unknown_pooling_is_refused():
    with pytest.raises(ValueError, match="unknown pooling"):
        create_model("aan_t", num_classes=2, pool="median")
