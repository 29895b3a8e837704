"""The one trainer: in-process runs, exact resume after SIGTERM mid-epoch, what it reports."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from core.progress import Reporter
from training.config import DataConfig, ModelConfig, RunConfig, ScheduleConfig, TrainConfig
from training.data import MemorySource
from training.metrics_log import read_metrics
from training.trainer import PREEMPTED_EXIT, BatchObserver, TrainData, train


def tiny_images(n=24, size=32, seed=0):
    """Class 1 has a bright bar somewhere, class 0 does not."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(90, 130, (n, 1, size, size), generator=g, dtype=torch.uint8)
    y = torch.arange(n) % 2
    for i in range(n):
        if y[i]:
            r = int(torch.randint(2, size - 4, (1,), generator=g))
            x[i, 0, r:r + 2, 4:size - 4] = 250
    return x, y.tolist()


def tiny_config(**run):
    return TrainConfig(data=DataConfig(input_size=32, in_chans=1), model=ModelConfig(base="aan_t", pool="attn"),
                       schedule=ScheduleConfig(epochs=3, batch_size=8, warmup_epochs=0.5),
                       run=RunConfig(device="cpu", **run))


class Seen(BatchObserver):
    def __init__(self):
        self.batches = []

    def on_batch(self, indices, logits, done):
        self.batches.append((indices.tolist(), tuple(logits.shape), done))


def test_in_process_run_reports_progress_train_accuracy_and_sees_every_batch():
    x, y = tiny_images()
    seen, fractions = Seen(), []
    result = train(tiny_config(), data=TrainData(MemorySource(x, y), class_names=["good", "bar"]),
                   reporter=Reporter(lambda d, t, m: fractions.append(d / t)), observer=seen)
    assert not result.stopped and result.epochs_done == 3 and 0 <= result.train_acc <= 1
    assert len(seen.batches) == 9 and all(shape == (8, 2) for _, shape, _ in seen.batches)
    assert sorted(i for idx, _, _ in seen.batches[:3] for i in idx) == sorted(range(24))  # one epoch: each once
    assert fractions[-1] == pytest.approx(1.0) and fractions == sorted(fractions)
    assert not result.model.training and next(result.model.parameters()).device.type == "cpu"


def test_cancel_stops_between_steps():
    x, y = tiny_images()
    reporter = Reporter()
    calls = []

    def stop():
        calls.append(1)
        return len(calls) >= 4

    result = train(tiny_config(), data=TrainData(MemorySource(x, y), class_names=["good", "bar"]),
                   reporter=reporter, stop=stop)
    assert result.stopped and result.epochs_done == 1


def _job(tmp_path, name, manifest, **schedule):
    cfg = {"data": {"manifest": str(manifest), "class_names": ["good", "scratch"], "input_size": 64, "in_chans": 1,
                    "num_workers": 0, "in_memory": True},
           "model": {"base": "aan_t", "pool": "attn"},
           "schedule": {"epochs": 3, "batch_size": 4, "warmup_epochs": 0.5, **schedule},
           "run": {"out_dir": str(tmp_path / name), "device": "cpu", "log_every": 1, "seed": 3}}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(cfg))
    return path


def _run(job, **kw):
    return subprocess.run([sys.executable, "-m", "training.finetune", "--config", str(job)], capture_output=True,
                          text=True, timeout=180, **kw)


@pytest.mark.slow
def test_resume_after_sigterm_mid_epoch_gives_the_weights_of_an_uninterrupted_run(tmp_path, dataset):
    manifest = dataset(tmp_path / "data", n=32)
    whole = _job(tmp_path, "whole", manifest)
    assert _run(whole).returncode == 0
    broken = _job(tmp_path, "broken", manifest)
    out = tmp_path / "broken"
    proc = subprocess.Popen([sys.executable, "-m", "training.finetune", "--config", str(broken)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:  # a step of epoch 1 that is not its last: mid-epoch
            steps = [r for r in read_metrics(out / "metrics.jsonl") if r["kind"] == "step" and r["epoch"] == 1]
            if steps:
                break
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == PREEMPTED_EXIT, proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    stopped = [r for r in read_metrics(out / "metrics.jsonl") if r["kind"] == "preempted"][-1]
    assert stopped["epoch"] == 1 and 0 < stopped["step_in_epoch"] < 6, stopped
    rerun = _run(broken)
    assert rerun.returncode == 0, rerun.stderr
    a = load_file(str(tmp_path / "whole" / "last.safetensors"))
    b = load_file(str(out / "last.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    epochs = [r for r in read_metrics(out / "metrics.jsonl") if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [0, 1, 2] and all(0 <= r["train_acc"] <= 1 for r in epochs)
