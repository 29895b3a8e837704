"""Checkpoints: exact round trip, and a one-line message naming the problem for every bad file."""
import json
import pickle
import struct

import pytest
import torch
from safetensors.torch import save_file

from core.errors import CheckpointError
from core.model import create_model
from core.model.checkpoint import CheckpointMeta, load_checkpoint, read_metadata, save_checkpoint

CLASSES = ["good", "scratch", "crack"]


@pytest.fixture
def model():
    torch.manual_seed(1)
    # Mean pooling: the files these tests hand-write carry no model config, which means the legacy one.
    m = create_model("aan_t", num_classes=3, in_chans=1, pool="mean")
    with torch.no_grad():
        m.alphas()[0].copy_(torch.tensor([0.5, -1.25]))
    return m.eval()


@pytest.fixture
def meta():
    return CheckpointMeta(arch="aan_t", class_names=CLASSES, in_chans=1, input_size=64, mean=(0.5,), std=(0.25,),
                          parent="base.safetensors", provenance={"snapshot": 7})


@pytest.fixture
def ckpt(tmp_path, model, meta):
    return save_checkpoint(tmp_path / "m.safetensors", model, meta)


def test_round_trip_reproduces_logits_exactly(ckpt, model):
    x = torch.randn(3, 1, 64, 64)
    loaded, meta = load_checkpoint(ckpt)
    with torch.inference_mode():
        assert torch.equal(loaded(x), model(x))
    assert meta.class_names == CLASSES and meta.mean == (0.5,) and meta.parent == "base.safetensors"
    assert meta.provenance == {"snapshot": 7}
    assert torch.equal(loaded.alphas()[0], torch.tensor([0.5, -1.25]))
    assert read_metadata(ckpt).created == meta.created


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, model, meta):
    save_checkpoint(tmp_path / "a.safetensors", model, meta)
    save_checkpoint(tmp_path / "a.safetensors", model, meta)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors"]


def _rewrite(path, tensors, meta_json):
    save_file(tensors, str(path), metadata={"inspector": meta_json})


def _tensors(model):
    return {k: v.contiguous() for k, v in model.state_dict().items()}


def test_wrong_architecture(tmp_path, model, meta):
    meta.arch = "aan_s"
    _rewrite(tmp_path / "x.safetensors", _tensors(model), meta.to_json())
    with pytest.raises(CheckpointError, match=r"missing tensor .* for aan_s|shape .* aan_s expects"):
        load_checkpoint(tmp_path / "x.safetensors")


def test_unknown_architecture(tmp_path, model, meta):
    meta.arch = "vit_huge"
    _rewrite(tmp_path / "x.safetensors", _tensors(model), meta.to_json())
    with pytest.raises(CheckpointError, match="unknown architecture 'vit_huge'"):
        load_checkpoint(tmp_path / "x.safetensors")


def test_missing_tensor(tmp_path, model, meta):
    t = _tensors(model)
    del t["head.weight"]
    _rewrite(tmp_path / "x.safetensors", t, meta.to_json())
    with pytest.raises(CheckpointError, match="missing tensor 'head.weight'"):
        load_checkpoint(tmp_path / "x.safetensors")


def test_extra_tensor(tmp_path, model, meta):
    t = _tensors(model) | {"evil.bonus": torch.zeros(2)}
    _rewrite(tmp_path / "x.safetensors", t, meta.to_json())
    with pytest.raises(CheckpointError, match="unexpected tensor 'evil.bonus'"):
        load_checkpoint(tmp_path / "x.safetensors")


def test_shape_mismatch(tmp_path, model, meta):
    meta.class_names = CLASSES + ["spot"]  # metadata says 4 classes, weights have 3
    _rewrite(tmp_path / "x.safetensors", _tensors(model), meta.to_json())
    with pytest.raises(CheckpointError, match=r"'head.\w+' has shape \(3.*expects \(4"):
        load_checkpoint(tmp_path / "x.safetensors")


def test_truncated(tmp_path, ckpt):
    data = ckpt.read_bytes()
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(bad)


@pytest.mark.parametrize("content", [b"", b"hello world, not weights", b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
                                     struct.pack("<Q", 10) + b"[1,2,3]   "])
def test_not_a_checkpoint(tmp_path, content):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a (safetensors )?checkpoint"):
        load_checkpoint(bad)


def test_safetensors_from_elsewhere(tmp_path, model):
    save_file(_tensors(model), str(tmp_path / "foreign.safetensors"))
    with pytest.raises(CheckpointError, match="without Inspector metadata"):
        load_checkpoint(tmp_path / "foreign.safetensors")


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nope.safetensors")


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("writer", ["pickle", "torch"])
def test_malicious_pickle_is_refused_without_running_it(tmp_path, writer):
    marker = tmp_path / "pwned"
    bad = tmp_path / "model.pt"
    if writer == "pickle":
        bad.write_bytes(pickle.dumps({"state_dict": _Payload(str(marker))}))
    else:
        torch.save({"state_dict": _Payload(str(marker))}, bad)
    assert not marker.exists()
    with pytest.raises(CheckpointError):
        load_checkpoint(bad)
    assert not marker.exists()


def test_metadata_json_is_readable_by_other_tools(ckpt):
    from safetensors import safe_open

    with safe_open(str(ckpt), "pt") as f:
        meta = json.loads(f.metadata()["inspector"])
    assert meta["arch"] == "aan_t" and meta["class_names"] == CLASSES
