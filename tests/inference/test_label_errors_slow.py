"""The hard one: planted label errors in the default demo data, found by `inspector label-scan`.

Data: the demo generator at its default size (500 images, 350 for training) with 10% of the
training labels flipped to a random wrong class (35 errors), imported into a real project with the
shipped demo model registered, as `make demo` does (seed 3 here: images the model never saw). The
scan (training/label_scan.py) fine-tunes from the project's model with the one trainer and ranks by
confident learning on probabilities averaged over early training. recall@k with k = the number of
planted errors.
"""
import csv
import shutil
import time
from pathlib import Path

import pytest
import torch

from core.data.demo import DEFAULT_N, TRUE_LABELS, make_demo_dataset
from core.data.scan import scan_dataset
from core.store.ingest import import_scan
from core.model.checkpoint import read_metadata
from core.store.model_versions import register_model_version
from core.store.project import open_project
from training.label_scan import default_base, scan_label_errors

DEMO_MODEL = Path(__file__).resolve().parents[2] / "assets" / "demo_aan_s.safetensors"


@pytest.mark.slow
def test_label_scan_finds_the_planted_label_errors_of_the_default_demo(tmp_path):
    t0 = time.monotonic()
    root = make_demo_dataset(tmp_path / "demo", n=DEFAULT_N, noise=0.1, seed=3)
    with open(tmp_path / "demo" / TRUE_LABELS, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["rel_path"].startswith("train/")]
    flipped = {r["rel_path"] for r in rows if r["true_label"] != r["given_label"]}
    assert len(flipped) == round(0.1 * len(rows)) == 35
    with open_project(tmp_path / "p.db") as project:
        model = shutil.copyfile(DEMO_MODEL, tmp_path / "demo_aan_s.safetensors")
        with project.session() as s:
            import_scan(s, scan_dataset(root), user="test")
            register_model_version(s, model, read_metadata(model))
        assert default_base(project) == str(model)
        items = scan_label_errors(project, splits=["train"])
    top = {i.rel_path for i in items[: len(flipped)]}
    recall = len(top & flipped) / len(flipped)
    print(f"\nrecall@{len(flipped)} = {recall:.2f} (target 0.80), {time.monotonic() - t0:.0f} s, "
          f"{torch.get_num_threads()} threads")
    assert recall >= 0.80
