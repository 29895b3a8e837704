"""The real multi-process path: torchrun --standalone --nproc_per_node=2 with gloo on CPU."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.model.checkpoint import load_checkpoint, read_metadata
from training.backends.base import STATUS_FILE
from training.finetune import PREEMPTED_EXIT
from training.metrics_log import read_metrics


pytestmark = pytest.mark.slow


def torchrun_cmd(config: Path, nproc: int = 2) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "training.finetune", "--config", str(config)]


def epochs_of(records: list[dict]) -> list[int]:
    return [r["epoch"] for r in records if r["kind"] == "epoch"]


def test_two_process_finetune_to_completion(tmp_path, dataset, job_config):
    manifest = dataset(tmp_path / "data", channels=1)
    out = tmp_path / "run"
    job = job_config(tmp_path / "job.json", manifest, out, epochs=2, job_id="j1", snapshot_id=7)
    proc = subprocess.run(torchrun_cmd(job), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    result = json.loads((out / "result.json").read_text())
    model, meta = load_checkpoint(result["best_checkpoint"])
    records = read_metrics(out / "metrics.jsonl")
    assert epochs_of(records) == [0, 1]
    epoch = [r for r in records if r["kind"] == "epoch"][-1]
    assert 0 <= epoch["val_acc"] <= 1 and 0 <= epoch["val_balanced_acc"] <= 1 and epoch["val_images"] == 8
    heads = [len(a) for a in model.alphas()]
    assert [len(a) for a in epoch["alphas"]] == heads and epoch["epoch_time_s"] > 0
    steps = [r for r in records if r["kind"] == "step"]
    assert [r["global_step"] for r in steps] == list(range(1, 7))
    assert all(r["images_per_s"] > 0 and r["lr"] > 0 for r in steps)
    start = records[0]
    assert start["kind"] == "start" and start["world_size"] == 2

    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "succeeded"
    assert meta.arch == "aan_s" and meta.class_names == ["good", "scratch"] and meta.in_chans == 1 and meta.input_size == 64
    assert meta.provenance["job_id"] == "j1" and meta.provenance["snapshot_id"] == 7
    assert "val_balanced_acc" in meta.provenance["val"]
    assert read_metadata(out / "last.safetensors").provenance["epochs"] == 2


def test_fine_tune_from_checkpoint_replaces_head(tmp_path, dataset, job_config):
    """A base checkpoint with other classes: backbone kept, head refitted; parent recorded. One process."""
    import torch

    from core.model import create_model
    from core.model.checkpoint import CheckpointMeta, save_checkpoint

    base = create_model("aan_s", 3, in_chans=1)
    save_checkpoint(tmp_path / "base.safetensors", base,
                    CheckpointMeta(arch="aan_s", class_names=["a", "b", "c"], in_chans=1, input_size=64, mean=(0.5,), std=(0.25,)))
    manifest = dataset(tmp_path / "data", n=16)
    out = tmp_path / "run"
    job = job_config(tmp_path / "job.json", manifest, out, base=str(tmp_path / "base.safetensors"), epochs=1,
                    max_steps_per_epoch=1, freeze_stem=True)
    proc = subprocess.run([sys.executable, "-m", "training.finetune", "--config", str(job)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    model, meta = load_checkpoint(out / "best.safetensors")
    assert meta.class_names == ["good", "scratch"] and meta.parent == "base.safetensors" and meta.mean == (0.5,)
    # Frozen stem: bit-identical to the base.
    for k, v in base.stem.state_dict().items():
        assert torch.equal(v, model.stem.state_dict()[k]), k


def test_sigterm_saves_state_and_rerun_resumes(tmp_path, dataset, job_config):
    manifest = dataset(tmp_path / "data", channels=3)
    out = tmp_path / "run"
    job = job_config(tmp_path / "job.json", manifest, out, in_chans=3, epochs=3, class_balanced=True)
    log = open(tmp_path / "first.log", "w")
    proc = subprocess.Popen(torchrun_cmd(job), start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    try:
        # Wait until epoch 0 is finished and epoch 1 has started, then stop the whole group (as a cancel does).
        while time.monotonic() < deadline:
            records = read_metrics(out / "metrics.jsonl")
            if epochs_of(records) and records[-1]["kind"] == "step":
                break
            assert proc.poll() is None, (tmp_path / "first.log").read_text()
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()

    status = json.loads((out / STATUS_FILE).read_text())
    assert status["state"] == "preempted", (tmp_path / "first.log").read_text()
    assert (out / "resume.pt").exists() and not (out / "result.json").exists()
    first = read_metrics(out / "metrics.jsonl")
    assert first[-1]["kind"] == "preempted"
    assert "Traceback" not in "".join(l for l in (tmp_path / "first.log").read_text().splitlines(True)
                                      if "training" in l), "a worker crashed instead of stopping"
    stopped_at = first[-1]["global_step"]

    proc = subprocess.run(torchrun_cmd(job), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = read_metrics(out / "metrics.jsonl")
    assert epochs_of(records) == [0, 1, 2], "epochs repeated or missing after resume"
    resumed = [r for r in records if r["kind"] == "start"][1]
    assert resumed["resumed"] and resumed["epoch"] >= 1
    steps = [r["global_step"] for r in records if r["kind"] == "step"]
    assert steps == sorted(steps) and len(set(steps)) == len(steps) and steps[-1] == 9
    assert min(s for s in steps if s > stopped_at) == stopped_at + 1
    assert json.loads((out / "result.json").read_text())["status"] == "succeeded"


def test_single_process_sigterm_exit_code(tmp_path, dataset, job_config):
    """Without torchrun the process itself reports preemption with exit status 75."""
    manifest = dataset(tmp_path / "data", n=16)
    out = tmp_path / "run"
    job = job_config(tmp_path / "job.json", manifest, out, epochs=50, max_steps_per_epoch=2)
    proc = subprocess.Popen([sys.executable, "-m", "training.finetune", "--config", str(job)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(r["kind"] == "step" for r in read_metrics(out / "metrics.jsonl")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == PREEMPTED_EXIT, proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert json.loads((out / STATUS_FILE).read_text())["state"] == "preempted"


def test_from_scratch_on_an_image_folder_tree(tmp_path):
    """The ImageNet-1K layout (data_root with train/ and val/), RGB, the "imagenet" augmentation; one process."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("val", 2)):
        for wnid in ("n01440764", "n01443537", "n01484850"):
            (tmp_path / "in1k" / split / wnid).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (40, 52, 3), dtype=np.uint8)).save(
                    tmp_path / "in1k" / split / wnid / f"{i}.JPEG", format="JPEG")
    cfg = {"data_root": str(tmp_path / "in1k"), "base": "aan_s", "input_size": 64, "out_dir": str(tmp_path / "run"),
           "augment": "imagenet", "epochs": 1, "batch_size": 4, "num_workers": 0, "max_steps_per_epoch": 2,
           "device": "cpu"}
    (tmp_path / "in1k.json").write_text(json.dumps(cfg))
    proc = subprocess.run([sys.executable, "-m", "training.finetune", "--config", str(tmp_path / "in1k.json")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    model, meta = load_checkpoint(tmp_path / "run" / "best.safetensors")
    assert meta.class_names == ["n01440764", "n01443537", "n01484850"] and meta.in_chans == 3
    epoch = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["kind"] == "epoch"][0]
    assert epoch["val_images"] == 6
