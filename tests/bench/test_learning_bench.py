"""bench/learning.py's per-model diagnostics: per-class test recall, the test images each model got
wrong, and the trained models saved as Inspector checkpoints (real generated images, real training)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from core.inference.preprocess import Preprocess
from core.model.checkpoint import load_checkpoint

REPO = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_learning", REPO / "bench" / "learning.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("bench")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the generated images stay in the test
        return _train_one(tmp_path)


def _train_one(tmp_path: Path):
    bench = _bench()
    out = tmp_path / "run.json"
    bench.main(["--n", "40", "--epochs", "2", "--models", "aan_t", "--threads", "1", "--json", str(out),
                "--save", str(tmp_path / "models")])
    args = bench.parse_args(["--n", "40"])
    _, test, _ = bench.load_data(args)
    return json.loads(out.read_text())["rows"][0], test, tmp_path / "models"


def test_errors_and_recall_agree_with_the_trainers_accuracy(run):
    row, test, _ = run
    n = len(test)
    assert row["test_acc"] == pytest.approx(1 - len(row["test_errors"]) / n)
    assert sorted(row["test_recall"]) == ["contamination", "crack", "good", "scratch", "spot"]
    for k, name in enumerate(sorted(row["test_recall"])):
        mine = [i for i in range(n) if test.targets[i] == k]
        missed = [i for i in mine if i in row["test_errors"]]
        assert row["test_recall"][name] == pytest.approx(1 - len(missed) / len(mine), abs=1e-4)


def test_saved_model_is_the_scored_one(run):
    row, test, models = run
    net, meta = load_checkpoint(models / "aan_t.safetensors")
    assert meta.class_names == sorted(row["test_recall"])
    with torch.inference_mode():
        predicted = net.eval()(Preprocess.from_meta(meta).normalise(test.images)).argmax(1).tolist()
    assert [i for i, (p, t) in enumerate(zip(predicted, test.targets)) if p != t] == row["test_errors"]
    assert meta.provenance["bench"] == "bench/learning.py"
