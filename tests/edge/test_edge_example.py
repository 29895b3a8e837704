"""examples/edge_predict.py runs with onnxruntime, numpy and pillow only, and says what Inspector says."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "edge_predict.py"
# Runs the example with torch (and Inspector's own packages) made unimportable: the proof that it needs neither.
NO_TORCH = ("import runpy, sys\n"
            "for name in ('torch', 'torchvision', 'core', 'app', 'training', 'usecases'): sys.modules[name] = None\n"
            "sys.argv = sys.argv[1:]\n"
            "runpy.run_path(sys.argv[0], run_name='__main__')\n")


def test_edge_example_needs_no_torch_and_agrees_with_inspector(int8_export, demo_project, tmp_path):
    import torch

    from core.edge.onnx_model import OnnxClassifier
    from core.inference.predict import predict_paths
    from core.inference.preprocess import Preprocess
    from core.store.project import open_project
    from core.store.queries import ImageFilter, all_images

    out, _ = int8_export
    with open_project(demo_project, create=False) as project, project.session() as s:
        paths = [r.abs_path for r in all_images(s, ImageFilter(readable=True))][:12]
    run = subprocess.run([sys.executable, "-c", NO_TORCH, str(EXAMPLE), str(out), *paths, "--json"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["path"] for r in rows] == paths

    model = OnnxClassifier(out, device="cpu")
    pre = Preprocess.from_meta(model.meta)
    ref = np.concatenate([p for _, p, _ in predict_paths(model, pre, paths, device=torch.device("cpu"), num_workers=0)])
    names = model.meta.class_names
    assert [r["class"] for r in rows] == [names[i] for i in ref.argmax(1)]
    got = np.array([[r["probabilities"][n] for n in names] for r in rows])
    # The example resizes with PIL, Inspector with torchvision: pixels a level apart at most (below),
    # which moves an int8 model's probabilities by a few thousandths, by 0.1 on a borderline image.
    assert np.median(np.abs(got - ref).max(axis=1)) < 0.005


def test_edge_example_preprocesses_as_inspector_does(int8_export, demo_project):
    import runpy

    from core.edge.onnx_model import read_onnx_metadata
    from core.inference.loader import decode
    from core.inference.preprocess import Preprocess
    from core.store.project import open_project
    from core.store.queries import ImageFilter, all_images

    out, _ = int8_export
    meta = read_onnx_metadata(out)
    pre = Preprocess.from_meta(meta)
    example = runpy.run_path(str(EXAMPLE))
    with open_project(demo_project, create=False) as project, project.session() as s:
        paths = [r.abs_path for r in all_images(s, ImageFilter(readable=True))][:20]
    for path in paths:
        ours = pre.normalise(pre.to_uint8(decode(path)).unsqueeze(0))[0].numpy()
        theirs = example["preprocess"](path, {"in_chans": meta.in_chans, "input_size": meta.input_size,
                                              "mean": meta.mean, "std": meta.std})
        levels = np.abs(ours - theirs) * np.asarray(meta.std).reshape(-1, 1, 1) * 255
        assert levels.max() < 1.01 and levels.mean() < 0.1, path


def test_edge_example_refuses_a_foreign_onnx(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    path = tmp_path / "foreign.onnx"
    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["logits"])], "g",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])])
    onnx.save(helper.make_model(graph), str(path))
    run = subprocess.run([sys.executable, str(EXAMPLE), str(path), "x.png"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr.strip() == f"{path}: not an Inspector export (no 'inspector' metadata)"
