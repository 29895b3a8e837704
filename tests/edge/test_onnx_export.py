"""ONNX export: logits match PyTorch, the metadata survives, int8 agrees with PyTorch, and files that
are not Inspector exports are refused in one line."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support.synthetic_datasets import tiny_checkpoint

from core.edge.onnx_export import activation_matmuls, export_onnx
from core.edge.onnx_model import OnnxClassifier, read_onnx_metadata
from core.errors import CheckpointError, InspectorError
from core.model.checkpoint import load_checkpoint, read_metadata

from .conftest import DEMO_MODEL

CLASSES = ["good", "scratch", "crack"]


@pytest.mark.parametrize("arch,pool,in_chans", [("aan_t", "lse", 1), ("aan_t", "attn", 3), ("aan_s", None, 1)])
def test_fp32_export_matches_pytorch_and_keeps_metadata(tmp_path, arch, pool, in_chans):
    ckpt, _ = tiny_checkpoint(tmp_path / "m.safetensors", CLASSES, arch=arch, in_chans=in_chans, input_size=64,
                              mean=(0.3,) * in_chans, std=(0.2,) * in_chans)
    if pool is not None:  # rebuild with the pooling asked for (tiny_checkpoint uses the variant's)
        from core.model import create_model
        from core.model.checkpoint import save_checkpoint

        meta = read_metadata(ckpt)
        meta.model = None
        torch.manual_seed(1)
        save_checkpoint(ckpt, create_model(arch, len(CLASSES), in_chans, pool=pool), meta)
    out = tmp_path / "m.onnx"
    report = export_onnx(ckpt, out)
    assert report.precision == "fp32" and report.max_abs_logit_diff < 1e-4 and report.top1_agreement == 1.0

    model, meta = load_checkpoint(ckpt)
    onnx_model = OnnxClassifier(out, device="cpu")
    for batch in (1, 5):  # the batch dimension is dynamic
        x = torch.randn(batch, in_chans, 64, 64)
        with torch.inference_mode():
            ref = model(x)
        got = onnx_model(x)
        assert got.shape == (batch, len(CLASSES))
        assert torch.allclose(got, ref, atol=1e-4, rtol=1e-4)

    exported = read_onnx_metadata(out)
    for field in ("arch", "class_names", "in_chans", "input_size", "mean", "std", "model", "created"):
        assert getattr(exported, field) == getattr(meta, field), field
    assert exported.parent == ckpt.name  # the checkpoint it came from
    record = exported.provenance["onnx"]
    assert record["precision"] == "fp32" and record["opset"] == 18 and len(record["source_sha256"]) == 64
    assert read_metadata(out) == exported  # the one metadata reader dispatches on .onnx


def test_int8_agrees_with_pytorch_on_a_generated_project(int8_export, demo_project):
    from core.inference.predict import predict_paths
    from core.inference.preprocess import Preprocess
    from core.store.project import open_project
    from core.store.queries import ImageFilter, all_images

    out, report = int8_export
    assert report.precision == "int8" and report.probe_images == 40
    assert out.stat().st_size < 5e6  # 4.2 M weights at one byte each, plus the graph
    with open_project(demo_project, create=False) as project, project.session() as s:
        paths = [r.abs_path for r in all_images(s, ImageFilter(readable=True))]
    model, meta = load_checkpoint(DEMO_MODEL)
    pre = Preprocess.from_meta(meta)
    cpu = torch.device("cpu")

    def top1(m) -> np.ndarray:
        return np.concatenate([p.argmax(1) for _, p, _ in predict_paths(m, pre, paths, device=cpu, num_workers=0)])

    agree = (top1(model) == top1(OnnxClassifier(out, device="cpu"))).mean()
    assert agree >= 0.95, f"int8 top-1 agrees with PyTorch on {agree:.1%} of {len(paths)} images"
    record = read_onnx_metadata(out).provenance["onnx"]
    assert record["calibration"] == {"project": demo_project.name, "images": 40, "seed": 0}
    assert record["quantization"]["attention"] == "float"


def test_attention_products_stay_float(int8_export):
    """The int8 graph quantizes the products with weights only: attention's Q·Kᵀ and P·V (and so
    the softmax between them) read float tensors, no DequantizeLinear feeds them."""
    import onnx

    out, _ = int8_export
    proto = onnx.load(str(out))
    weights = {t.name for t in proto.graph.initializer}
    dq = [n for n in proto.graph.node if n.op_type == "DequantizeLinear"]
    weight_dq = {n.output[0] for n in dq if n.input[0] in weights}
    activation_dq = {n.output[0] for n in dq if n.input[0] not in weights}
    matmuls = [n for n in proto.graph.node if n.op_type == "MatMul"]
    attention = [n for n in matmuls if not any(i in weights or i in weight_dq for i in n.input)]
    assert len(attention) == 2 * 9  # aan_s: 9 attention blocks (the pooling is lse)
    assert not [n.name for n in attention if any(i in activation_dq for i in n.input)]
    assert any(set(n.input) & weight_dq for n in matmuls)  # the linear layers are int8
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    head = [n for n in proto.graph.node if n.op_type == "Gemm"]
    assert convs[0].input[1] in weights  # the first convolution stays float
    assert all(n.input[1] in weight_dq for n in convs[1:]) and len(head) == 1 and head[0].input[1] in weight_dq


def test_activation_matmuls_finds_the_attention_products(aan_t_export):
    _, onnx_path = aan_t_export
    # aan_t: two attention blocks, each with Q·Kᵀ and P·V (the pooling is not attention: lse)
    assert len(activation_matmuls(onnx_path)) == 4


def _onnx_without_metadata(path):
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Identity", ["image"], ["logits"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])])
    onnx.save(helper.make_model(graph), str(path))


@pytest.mark.parametrize("case,expected", [
    ("garbage", "not an ONNX model, or damaged"),
    ("empty", "not an ONNX model (file is 0 bytes)"),
    ("truncated", "not an ONNX model, or damaged"),
    ("safetensors", "not an ONNX model, or damaged"),
    ("foreign", "an ONNX model without Inspector metadata"),
    ("folder", "is a folder, not a model file"),
    ("missing", "no such model file"),
])
def test_foreign_or_damaged_onnx_is_refused_in_one_line(tmp_path, aan_t_export, case, expected):
    from app.cli import main

    ckpt, full = aan_t_export
    path = tmp_path / "x.onnx"
    if case == "garbage":
        path.write_bytes(b"\x08\x07 this is not protobuf \xff\xfe" * 10)
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "truncated":
        path.write_bytes(full.read_bytes()[:50_000])
    elif case == "safetensors":
        path.write_bytes(ckpt.read_bytes())
    elif case == "foreign":
        _onnx_without_metadata(path)
    elif case == "folder":
        path.mkdir()
    with pytest.raises(CheckpointError) as e:
        read_metadata(path)
    assert expected in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(CheckpointError):
        OnnxClassifier(path)
    before = path.read_bytes() if path.is_file() else None
    assert main(["model-info", str(path)]) == 2
    assert (path.read_bytes() if path.is_file() else None) == before  # never written


def test_export_refuses_what_it_cannot_do(tmp_path):
    ckpt, _ = tiny_checkpoint(tmp_path / "m.safetensors", CLASSES, arch="aan_t")
    with pytest.raises(InspectorError, match="needs calibration images"):
        export_onnx(ckpt, tmp_path / "m.onnx", int8=True)
    with pytest.raises(InspectorError, match="must be a .onnx file"):
        export_onnx(ckpt, tmp_path / "m.bin")
    export_onnx(ckpt, tmp_path / "m.onnx")
    with pytest.raises(InspectorError, match="already an ONNX model"):
        export_onnx(tmp_path / "m.onnx", tmp_path / "again.onnx")
    with pytest.raises(CheckpointError, match="predicts only"):
        load_checkpoint(tmp_path / "m.onnx")  # attention and training need the checkpoint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.safetensors"]  # no temp files left


def test_cli_export_then_predict_records_the_parent(tmp_path, demo_project, capsys):
    """`inspector export` then `inspector predict --model m.onnx`: stored predictions like any model
    version, whose parent is the checkpoint version it was exported from."""
    import shutil

    from app.cli import main
    from core.store import model_versions, predictions
    from core.store.project import open_project

    db = tmp_path / "p.db"
    shutil.copy(demo_project, db)
    assert main(["predict", "--db", str(db), "--model", str(DEMO_MODEL)]) == 0
    out = tmp_path / "demo.onnx"
    assert main(["export", "--model", str(DEMO_MODEL), "--format", "onnx", "--out", str(out),
                 "--calibrate-db", str(db), "--calibrate-n", "16"]) == 0
    printed = capsys.readouterr().out
    assert "fp32 ONNX" in printed and "top-1 agrees on 100.0%" in printed
    assert main(["predict", "--db", str(db), "--model", str(out)]) == 0
    assert "80 predicted" in capsys.readouterr().out
    with open_project(db, create=False) as project, project.session() as s:
        versions = {v.name: v for v in model_versions.list_model_versions(s)}
        ids_t, torch_probs = predictions.load_predictions(s, versions["demo_aan_s"].id)
        ids_o, onnx_probs = predictions.load_predictions(s, versions["demo"].id)
    assert len(ids_t) == 80 and (ids_t == ids_o).all()
    assert versions["demo"].parent_id == versions["demo_aan_s"].id
    assert np.abs(torch_probs - onnx_probs).max() < 1e-4
    assert main(["model-info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "onnx" and info["parent"] == DEMO_MODEL.name


def test_cli_export_option_errors(tmp_path, capsys):
    from app.cli import main

    ckpt, _ = tiny_checkpoint(tmp_path / "m.safetensors", CLASSES, arch="aan_t")
    cases = [
        (["export", "--model", str(ckpt), "--out", str(tmp_path / "m.onnx")], "give --format onnx"),
        (["export", "--model", str(ckpt), "--format", "onnx", "--int8", "--out", str(tmp_path / "m.onnx")],
         "--int8 needs --calibrate-db"),
        (["export", "--int8"], "give --model CKPT"),
        (["export"], "give --db PROJECT.db to export labels"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("pool", ["lse", "attn"])
def test_with_attention_outputs_every_layer_as_the_panel_sees_it(tmp_path, pool):
    from core.model import create_model
    from core.model.capture import capture_attention
    from core.model.checkpoint import save_checkpoint

    ckpt, _ = tiny_checkpoint(tmp_path / "m.safetensors", CLASSES, arch="aan_t", input_size=64)
    meta = read_metadata(ckpt)
    meta.model = None
    torch.manual_seed(2)
    save_checkpoint(ckpt, create_model("aan_t", len(CLASSES), 1, pool=pool), meta)
    out = tmp_path / "m.onnx"
    report = export_onnx(ckpt, out, with_attention=True)
    assert report.top1_agreement == 1.0
    layers = read_onnx_metadata(out).provenance["onnx"]["attention"]
    model, _ = load_checkpoint(ckpt)
    x = torch.randn(3, 1, 64, 64)
    with torch.inference_mode(), capture_attention(model) as cap:
        logits = model(x)
    session = OnnxClassifier(out).session
    got = session.run(None, {"image": x.numpy()})
    assert [o.name for o in session.get_outputs()] == ["logits"] + [f"attention_{i}" for i in range(len(cap.layers))]
    assert len(layers) == len(cap.layers) == len(got) - 1
    np.testing.assert_allclose(got[0], logits.numpy(), atol=1e-4)
    for rec, info, probs in zip(cap.layers, layers, got[1:]):
        assert info["grid"] == list(rec.grid) and info["heads"] == rec.probs.shape[1]
        np.testing.assert_allclose(probs, rec.probs.numpy(), atol=1e-5)
        np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    assert layers[-1]["queries"] == (1 if pool == "attn" else layers[-1]["grid"][0] * layers[-1]["grid"][1])


def test_model_info_of_an_export_without_a_recorded_origin(tmp_path, capsys):
    """A checkpoint with no provenance: its export's table has no provenance heading (nothing but the
    export's own record, which has its lines above) and model-info does not fail on the empty rest."""
    from app.cli import main

    ckpt, _ = tiny_checkpoint(tmp_path / "m.safetensors", CLASSES, arch="aan_t")
    assert read_metadata(ckpt).provenance == {}
    export_onnx(ckpt, tmp_path / "m.onnx")
    assert main(["model-info", str(tmp_path / "m.onnx")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("  format        ONNX fp32")
    assert out.splitlines()[-1] == "  classes       3: good, scratch, crack" and "provenance" not in out
