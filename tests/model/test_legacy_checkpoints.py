"""Checkpoints written before pooling became a model option (fixtures made by the model code of
commit 109887a, see fixtures/make_legacy_v1.py) load and give exactly the logits they gave then."""
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from core.model import create_model
from core.model.checkpoint import load_checkpoint

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("chans", [1, 3])
def test_legacy_checkpoint_gives_identical_logits(chans):
    model, meta = load_checkpoint(FIXTURES / f"legacy_v1_aan_t_c{chans}.safetensors")
    io = load_file(str(FIXTURES / f"legacy_v1_aan_t_c{chans}_io.safetensors"))
    with torch.inference_mode():
        assert torch.equal(model(io["x"]), io["logits"])
    assert meta.in_chans == chans and meta.class_names == ["good", "scratch", "crack"]


def test_legacy_aan_s_structure_is_what_a_legacy_checkpoint_of_it_holds():
    from core.model.checkpoint import legacy_model_options

    shapes = json.loads((FIXTURES / "legacy_v1_aan_s_c1_k5_shapes.json").read_text())
    model = create_model("aan_s", num_classes=5, in_chans=1, **legacy_model_options("aan_s"))
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == shapes
