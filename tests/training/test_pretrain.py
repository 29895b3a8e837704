"""Formula-driven pretraining: a deterministic generator, a real job that resumes, a valid checkpoint."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from core.model.checkpoint import load_checkpoint, read_metadata
from training.formula_images import FormulaImages, categories, render
from training.metrics_log import read_metrics
from training.trainer import PREEMPTED_EXIT


def test_same_seed_same_pixels_and_categories_differ():
    a = render(3, 7, size=64, count=20, seed=5)
    assert a.dtype == np.uint8 and a.shape == (64, 64)
    assert np.array_equal(a, render(3, 7, size=64, count=20, seed=5))
    assert not np.array_equal(a, render(3, 8, size=64, count=20, seed=5))  # another instance
    assert not np.array_equal(a, render(4, 7, size=64, count=20, seed=5))  # another category
    assert render(3, 7, size=64, count=20, seed=5, in_chans=3).shape == (64, 64, 3)
    first, again = categories(20, 5), categories(20, 5)
    assert first is again and len(first) == 20
    assert all(np.allclose(f.probs.sum(), 1) for f in first)


def test_every_epoch_draws_new_images_and_held_out_ones_are_never_drawn():
    ds = FormulaImages(10, 40, 32, 1, seed=1)
    e0 = [ds[i][0] for i in range(3)]
    ds.epoch = 1
    e1 = [ds[i][0] for i in range(3)]
    assert all(not (a == b).all() for a, b in zip(e0, e1))
    assert [ds.label(i) for i in range(12)] == [i % 10 for i in range(12)]
    held = FormulaImages(10, 20, 32, 1, seed=1, held_out=True)
    held.epoch = 5
    assert (held[0][0] == FormulaImages(10, 20, 32, 1, seed=1, held_out=True)[0][0]).all()


@pytest.mark.slow
def test_pretraining_job_resumes_after_sigterm_and_writes_a_checkpoint(tmp_path):
    out = tmp_path / "pt"
    argv = [sys.executable, "-m", "app", "pretrain", "--out", str(out), "--arch", "aan_t", "--categories", "8",
            "--images-per-epoch", "64", "--epochs", "3", "--input-size", "64", "--batch-size", "8", "--nproc", "1",
            "--workers", "0"]
    first = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    job = json.loads((out / "job.json").read_text())
    assert job["data"]["source"] == "formula" and job["model"]["pool"] == "attn"
    metrics = out / "out" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not any(r["kind"] == "step" for r in read_metrics(metrics)):
        assert time.monotonic() < deadline, (out / "train.log").read_text() if (out / "train.log").exists() else ""
        time.sleep(0.1)
    pid = int((out / "external_id").read_text().split()[1])
    import os

    os.killpg(pid, signal.SIGTERM)  # what a cancel does to the local job's process group
    deadline = time.monotonic() + 60
    while not (out / "exit_code").exists():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    if int((out / "exit_code").read_text()) == PREEMPTED_EXIT:  # stopped before the end: resume
        assert json.loads((out / "out" / "status.json").read_text())["state"] == "preempted"
        again = subprocess.run([*argv, "--wait", "--poll", "0.2"], capture_output=True, text=True, timeout=180)
        assert again.returncode == 0, again.stdout + again.stderr
        starts = [r for r in read_metrics(metrics) if r["kind"] == "start"]
        assert starts[-1]["resumed"]
    model, meta = load_checkpoint(out / "out" / "best.safetensors")
    assert meta.class_names[0] == "formula-0000" and len(meta.class_names) == 8 and meta.in_chans == 1
    assert meta.provenance["trainer"] == "training.pretrain" and read_metadata(out / "out" / "last.safetensors")
    epochs = [r for r in read_metrics(metrics) if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [0, 1, 2] and all("val_acc" in r for r in epochs)


@pytest.mark.slow
def test_pretraining_continues_from_a_checkpoint_with_more_categories(tmp_path, monkeypatch):
    """The curriculum of the shipped start: a run on 8 categories, then one on 16 from its weights
    (`--from`, given relative to where the command runs: the job runs elsewhere)."""
    common = ["--arch", "aan_t", "--images-per-epoch", "32", "--epochs", "1", "--input-size", "64",
              "--batch-size", "8", "--nproc", "1", "--workers", "0", "--wait", "--poll", "0.2"]
    monkeypatch.chdir(tmp_path)
    first = subprocess.run([sys.executable, "-m", "app", "pretrain", "--out", "a", "--categories", "8", *common],
                           capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stdout + first.stderr
    second = subprocess.run([sys.executable, "-m", "app", "pretrain", "--out", "b", "--categories", "16",
                             "--from", "a/out/best.safetensors", *common], capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stdout + second.stderr
    start = [r for r in read_metrics(tmp_path / "b" / "out" / "metrics.jsonl") if r["kind"] == "start"][0]
    assert start["head_replaced"]
    a, _ = load_checkpoint(tmp_path / "a" / "out" / "best.safetensors")
    b, meta = load_checkpoint(tmp_path / "b" / "out" / "best.safetensors")
    assert len(meta.class_names) == 16 and meta.parent is not None
    # Trained on, not started afresh: the stem moved by a few steps only, far less than a new init differs.
    wa, wb = a.stem[0][0].weight, b.stem[0][0].weight
    assert (wb - wa).norm() < 0.5 * wa.norm()


def test_pretraining_from_a_file_that_is_no_checkpoint_says_so(tmp_path):
    bad = tmp_path / "notes.safetensors"
    bad.write_text("not weights")
    run = subprocess.run([sys.executable, "-m", "app", "pretrain", "--out", str(tmp_path / "o"), "--from", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "notes.safetensors" in run.stderr and not (tmp_path / "o").exists()
