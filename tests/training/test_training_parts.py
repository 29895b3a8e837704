"""Fast checks of the pieces finetune.py is made of."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from training import resume
from training.config import ConfigError, FinetuneConfig
from training.evaluate import confusion_metrics
from training.samplers import DistributedClassBalancedSampler, SkipFirst
from training.schedule import warmup_cosine


def test_config_round_trip_and_validation(tmp_path):
    cfg = FinetuneConfig(manifest="m.csv", class_names=["a", "b"], out_dir="o", epochs=3, batch_size=64)
    path = cfg.save(tmp_path / "job.json")
    assert FinetuneConfig.load(path) == cfg
    assert cfg.scaled_lr(8) == pytest.approx(cfg.lr * 2)  # 64 x 8 = 512 = 2 x 256
    assert FinetuneConfig(data_root="imagenet", out_dir="o").class_names == []
    bad = [
        {},  # neither manifest nor data_root
        {"manifest": "m", "data_root": "d"},
        {"manifest": "m"},  # no class names
        {"manifest": "m", "class_names": ["a"], "epochs": 0},
        {"manifest": "m", "class_names": ["a"], "in_chans": 2},
        {"manifest": "m", "class_names": ["a"], "input_size": 100},
        {"manifest": "m", "class_names": ["a"], "lr": float("nan")},
        {"manifest": "m", "class_names": ["a"], "device": "tpu"},
        {"manifest": "m", "class_names": ["a"], "batch_size": True},
        {"manifest": "m", "class_names": ["a"], "nonsense": 1},
    ]
    for raw in bad:
        with pytest.raises(ConfigError):
            FinetuneConfig.from_dict({"out_dir": "o", **raw})
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        FinetuneConfig.load(tmp_path / "broken.json")


def test_warmup_then_cosine():
    lrs = [warmup_cosine(s, warmup_steps=10, total_steps=110) for s in range(110)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))  # monotone decay after warm-up
    assert lrs[-1] == pytest.approx(0.01, abs=0.01)


def test_class_balanced_sampler_splits_ranks_and_balances():
    targets = [0] * 90 + [1] * 10
    samplers = [DistributedClassBalancedSampler(targets, num_replicas=2, rank=r, seed=1) for r in (0, 1)]
    for s in samplers:
        s.set_epoch(3)
    drawn = [list(s) for s in samplers]
    assert len(drawn[0]) == len(drawn[1]) == 50
    ones = sum(targets[i] for d in drawn for i in d)
    assert 30 <= ones <= 70  # about half from the 10% class
    samplers[0].set_epoch(4)
    assert list(samplers[0]) != drawn[0]
    assert list(SkipFirst(samplers[1], 20)) == drawn[1][20:]


def test_balanced_accuracy_from_confusion():
    confusion = torch.tensor([[90.0, 0.0], [10.0, 0.0]])  # always "good": 90% accurate, blind to defects
    m = confusion_metrics(confusion, loss_sum=50.0)
    assert m["val_acc"] == pytest.approx(0.9) and m["val_balanced_acc"] == pytest.approx(0.5)


def test_resume_state_loads_with_weights_only(tmp_path):
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    from training.schedule import build_scheduler

    sched = build_scheduler(opt, warmup_steps=2, total_steps=10)
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
    sched.step()
    resume.atomic_torch_save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                              "scheduler": sched.state_dict(), "best": {"epoch": 0, "val_acc": 0.5}}, tmp_path / "s.pt")
    resume.save_rng(tmp_path, 0, position=7)
    expected = (torch.rand(3), np.random.rand(), random.random())
    state = resume.safe_load(tmp_path / "s.pt")  # weights_only=True inside
    opt2 = torch.optim.AdamW(model.parameters(), lr=0.1)
    opt2.load_state_dict(state["optimizer"])
    sched2 = build_scheduler(opt2, warmup_steps=2, total_steps=10)
    sched2.load_state_dict(state["scheduler"])
    assert sched2.last_epoch == 1
    assert not resume.restore_rng(tmp_path, 0, position=8)  # stale: not restored
    assert resume.restore_rng(tmp_path, 0, position=7)
    again = (torch.rand(3), np.random.rand(), random.random())
    assert torch.equal(expected[0], again[0]) and expected[1:] == again[1:]
    assert not list(tmp_path.glob(".*.tmp"))


def test_training_never_imports_qt_or_app():
    import subprocess
    import sys

    code = ("import sys, training.finetune, usecases.finetune_jobs, training.backends.local, training.backends.slurm;"
            "bad=[m for m in sys.modules if m.split('.')[0] in ('PySide6','pyqtgraph','app','superqt')];"
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_profiles_toml_round_trip_and_user_file(tmp_path, monkeypatch):
    from training.profiles import BUILTIN, Profile, ProfileError, get_profile, load_profiles, save_profiles

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert load_profiles() == BUILTIN  # no file: built-ins
    mine = Profile(name="big", backend="slurm", partition="a100", account="vision", gpus=8, cpus_per_task=96,
                   mem="900G", time="2-00:00:00", python="/opt/inspector/bin/python", srun=False)
    path = save_profiles([mine, Profile(name="local-cpu", backend="local", nproc=1)])
    assert path == tmp_path / "inspector" / "backends.toml"
    loaded = load_profiles()
    assert loaded["big"] == mine and loaded["local-cpu"].nproc == 1 and loaded["slurm-gpu"] == BUILTIN["slurm-gpu"]
    assert get_profile("big").processes == 8 and get_profile("big").device == "cuda"
    path.write_text('[profiles.x]\nbackend = "slurm"\ngpus = -1\n')
    with pytest.raises(ProfileError, match="gpus"):
        load_profiles()
    path.write_text('[profiles.x]\nbackend = "slurm"\nqueue = "a"\n')
    with pytest.raises(ProfileError, match="unknown key 'queue'"):
        load_profiles()
    with pytest.raises(ProfileError, match="no backend profile"):
        get_profile("nope", tmp_path / "missing.toml")


def test_training_sees_the_pixels_inference_sees(tmp_path):
    import numpy as np
    from PIL import Image

    from core.inference.loader import decode
    from core.inference.preprocess import match_channels
    from training.data import load_uint8

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(tmp_path / "rgb.png")
    Image.fromarray(rng.integers(0, 255, (20, 30), dtype=np.uint8)).save(tmp_path / "gray.png")
    for name in ("rgb.png", "gray.png"):
        for chans in (1, 3):
            path = str(tmp_path / name)
            assert torch.equal(load_uint8(path, chans), match_channels(decode(path), chans)), (name, chans)
