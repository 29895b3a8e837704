"""Stem options of AANConfig (residual conv blocks after the stem convolutions). AANConfig's defaults are
the first design (no blocks: every checkpoint written before the option existed); aan_s has blocks at
/4 and /8 since issue 10. The variants build, run and stay in the reference budget."""
import json
from pathlib import Path

import pytest
import torch

from core.model import AANConfig, capture_attention, create_model
from core.model.aan import ConvBlock
from core.model.checkpoint import CheckpointMeta, legacy_model_options, load_checkpoint, save_checkpoint
from core.model.complexity import count_gmacs, count_params

FIXTURES = Path(__file__).parent / "fixtures"

# aan_s itself, and other shapes within the same budget (bench/learning.py compares them: training/README.md).
VARIANTS = {
    "aan_s": dict(stem_channels=(16, 24, 40), stem_blocks=(0, 1, 1), embed_dims=(96, 280), depths=(2, 5),
                  num_heads=(3, 8)),
    "s8": dict(stem_channels=(16, 24, 48), stem_blocks=(0, 0, 1), depths=(2, 5), embed_dims=(96, 280),
               num_heads=(3, 8)),
    "one_s16": dict(stem_channels=(16, 24, 40), stem_blocks=(0, 1, 1), depths=(1, 5), embed_dims=(128, 276)),
}


def _shapes(model: torch.nn.Module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in model.state_dict().items()}


def test_default_stem_is_the_legacy_structure():
    shapes = json.loads((FIXTURES / "legacy_v1_aan_s_c1_k5_shapes.json").read_text())
    for blocks in ((), (0, 0, 0)):
        model = create_model("aan_s", 5, 1, **{**legacy_model_options("aan_s"), "stem_blocks": blocks})
        assert _shapes(model) == shapes  # same keys, same order, same shapes


def test_aan_s_is_its_variant_row():
    assert create_model("aan_s", 2).config == AANConfig(**VARIANTS["aan_s"])


@pytest.mark.parametrize("options", [{"arch": "aan_t"}, {"arch": "aan_s", **legacy_model_options("aan_s")}],
                         ids=["aan_t", "first_aan_s"])
def test_zero_blocks_is_the_model_without_blocks_exactly(options):
    options = dict(options)
    name = options.pop("arch")
    torch.manual_seed(0)
    default = create_model(name, 4, 3, **options).eval()
    torch.manual_seed(0)
    zeros = create_model(name, 4, 3, **{**options, "stem_blocks": (0, 0, 0)}).eval()
    assert list(default.state_dict()) == list(zeros.state_dict())
    assert all(torch.equal(v, zeros.state_dict()[k]) for k, v in default.state_dict().items())
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(default(x), zeros(x))


def test_a_config_saved_before_the_option_loads_with_no_blocks():
    raw = AANConfig().to_dict()
    del raw["stem_blocks"]
    assert AANConfig.from_dict(json.loads(json.dumps(raw))) == AANConfig()
    assert AANConfig.from_dict(json.loads(json.dumps(AANConfig(**VARIANTS["aan_s"]).to_dict()))) == AANConfig(
        **VARIANTS["aan_s"])


@pytest.mark.parametrize("blocks,error", [((0, 1), "one count per stem convolution"), ((0, -1, 0), "negative")])
def test_bad_stem_blocks_are_refused(blocks, error):
    with pytest.raises(ValueError, match=error):
        AANConfig(stem_blocks=blocks)


def test_blocks_sit_after_their_stem_convolution():
    model = create_model("aan_s", 3, 1, stem_blocks=(0, 1, 2))
    assert [sum(isinstance(m, ConvBlock) for m in scale) for scale in model.stem] == [0, 1, 2]
    assert [blk.conv1[0].in_channels for scale in model.stem for blk in scale if isinstance(blk, ConvBlock)] == [24, 40, 40]


def test_new_blocks_start_as_the_identity():
    """Zero-initialised last BatchNorm: the variant starts as the network without its blocks."""
    torch.manual_seed(0)
    plain = create_model("aan_t", 3, 1).eval()
    blocks = create_model("aan_t", 3, 1, stem_blocks=(1, 1, 1)).eval()
    missing, unexpected = blocks.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(".3." in k or ".4." in k for k in missing)
    x = torch.randn(2, 1, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(blocks(x), plain(x), rtol=0, atol=0)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("size,in_chans", [(64, 1), (96, 3), (160, 1)])
def test_variants_run_gray_or_rgb_any_multiple_of_32(variant, size, in_chans):
    torch.manual_seed(0)
    model = create_model("aan_s", 7, in_chans, **VARIANTS[variant]).eval()
    x = torch.randn(2, in_chans, size, size)
    with torch.inference_mode():
        assert model.forward_features(x).shape == (2, model.num_features, size // 32, size // 32)
        with capture_attention(model) as cap:
            out = model(x)
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    d0, d1 = VARIANTS[variant]["depths"]
    assert [layer.grid for layer in cap] == [(size // 16, size // 16)] * d0 + [(size // 32, size // 32)] * d1


def test_a_variant_checkpoint_rebuilds_its_stem(tmp_path):
    torch.manual_seed(0)
    model = create_model("aan_s", 3, 1, **VARIANTS["s8"]).eval()
    meta = CheckpointMeta(arch="aan_s", class_names=["good", "scratch", "spot"], in_chans=1, input_size=64,
                          mean=(0.5,), std=(0.25,))
    loaded, loaded_meta = load_checkpoint(save_checkpoint(tmp_path / "v.safetensors", model, meta))
    assert loaded.config == model.config and loaded_meta.model["stem_blocks"] == [0, 0, 1]
    x = torch.randn(2, 1, 64, 64)
    with torch.inference_mode():
        assert torch.equal(loaded(x), model(x))


def test_variants_adapt_input_channels():
    model = create_model("aan_s", 2, 3).eval()
    model.adapt_input_channels(1)
    with torch.inference_mode():
        assert model(torch.randn(1, 1, 64, 64)).shape == (1, 2)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_stay_in_the_reference_budget(variant):
    """4.2 M parameters +-2 %, 0.31 GMACs +3 % (attention products included) at 224x224 with 1000
    classes, both attention stages kept."""
    model = create_model("aan_s", 1000, **VARIANTS[variant])
    params, gmacs = count_params(model), count_gmacs(model, 224)
    assert abs(params - 4.2e6) / 4.2e6 <= 0.02, params
    assert gmacs <= 0.31 * 1.03, gmacs
    assert model.config.depths[0] >= 1 and model.config.depths[1] >= 1


def test_a_checkpoint_of_the_first_design_still_loads_after_aan_s_changed(tmp_path):
    """Its metadata records the first aan_s config without the options added since (stem_blocks):
    it must rebuild that network, not today's aan_s with its stem blocks, and give the same logits."""
    first = {k: v for k, v in AANConfig(pool="lse").to_dict().items() if k != "stem_blocks"}
    torch.manual_seed(0)
    model = create_model("aan_s", 5, 1, **first, stem_blocks=()).eval()
    meta = CheckpointMeta(arch="aan_s", class_names=list("abcde"), in_chans=1, input_size=64, mean=(0.5,),
                          std=(0.25,), model=json.loads(json.dumps(first)))
    loaded, _ = load_checkpoint(save_checkpoint(tmp_path / "first.safetensors", model, meta))
    assert not any(isinstance(m, ConvBlock) for m in loaded.modules())
    assert loaded.config.depths == (4, 5) and loaded.config.embed_dims == (128, 256)
    x = torch.randn(2, 1, 64, 64)
    with torch.inference_mode():
        assert torch.equal(loaded(x), model(x))
