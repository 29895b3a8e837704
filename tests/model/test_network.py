"""aan_s: size and cost targets, shapes, attention capture, input variants."""
import pytest
import torch
import torchvision

from core.model import capture_attention, create_model
from core.model.complexity import count_gmacs, count_params


@pytest.fixture(scope="module")
def aan_s():
    torch.manual_seed(0)
    return create_model("aan_s", num_classes=1000).eval()


def test_reference_size_and_cost(aan_s):
    params = count_params(aan_s)
    gmacs = count_gmacs(aan_s, 224)
    assert abs(params - 4.2e6) / 4.2e6 <= 0.02, params
    # The reference design: about 0.31 GMACs (+3 %), counted with attention's own products (which
    # the counter missed on CPU before: core/model/complexity.py; the first design cost 0.356).
    assert gmacs <= 0.31 * 1.03, gmacs


def test_smaller_and_cheaper_than_efficientnet_b0(aan_s):
    effnet = torchvision.models.efficientnet_b0()
    assert count_params(aan_s) < count_params(effnet)
    assert count_gmacs(aan_s, 224) < count_gmacs(effnet, 224)


def test_flop_counter_counts_a_linear_layer_as_macs():
    """Guards the GMACs convention: FlopCounterMode counts a multiply-add as 2 FLOPs."""
    layer = torch.nn.Linear(1000, 1000, bias=False)

    class Wrap(torch.nn.Module):
        def forward(self, x):
            return layer(x.flatten(1)[:, :1000])

    assert count_gmacs(Wrap(), input_size=32, in_chans=1) == pytest.approx(1e6 / 1e9)


@pytest.mark.parametrize("size", [224, 160])
def test_captured_attention_shapes_and_rows(aan_s, size):
    x = torch.randn(2, 3, size, size)
    with torch.inference_mode():
        plain = aan_s(x)
        with capture_attention(aan_s) as cap:
            captured = aan_s(x)
    torch.testing.assert_close(captured, plain, rtol=1e-4, atol=1e-5)
    assert len(cap) == len(aan_s.alphas()) == 7
    grids = [layer.grid for layer in cap]
    assert grids == [(size // 16, size // 16)] * 2 + [(size // 32, size // 32)] * 5
    for layer, alphas in zip(cap, aan_s.alphas()):
        h, w = layer.grid
        assert layer.probs.shape == (2, alphas.numel(), h * w, h * w)
        torch.testing.assert_close(layer.probs.sum(-1), torch.ones(2, alphas.numel(), h * w))


def test_capture_is_removed_afterwards(aan_s):
    with capture_attention(aan_s):
        pass
    assert all(blk.attn.recorder is None for stage in aan_s.stages for blk in stage.blocks)


def test_alphas_are_live_parameters_one_per_head(aan_s):
    alphas = aan_s.alphas()
    params = {id(p) for p in aan_s.parameters()}
    assert [a.numel() for a in alphas] == [3] * 2 + [8] * 5
    assert all(id(a) in params and a.requires_grad for a in alphas)
    assert all(torch.equal(a, torch.ones_like(a)) for a in alphas)


@pytest.mark.parametrize("size,in_chans,classes", [(64, 1, 2), (96, 3, 5), (256, 1, 7), (128, 3, 1)])
def test_any_multiple_of_32_any_classes_gray_or_rgb(size, in_chans, classes):
    model = create_model("aan_t", num_classes=classes, in_chans=in_chans).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, in_chans, size, size))
    assert out.shape == (2, classes)
    assert torch.isfinite(out).all()


def test_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="unknown architecture 'resnet9000'"):
        create_model("resnet9000", 3)
