"""Fast checks of the pieces the trainer is made of."""
from __future__ import annotations

import json

import pytest
import torch

from training import resume
from training.config import ConfigError, DataConfig, OptimConfig, RunConfig, ScheduleConfig, TrainConfig
from training.data import epoch_order, use_class_balance
from training.evaluate import confusion_metrics
from training.schedule import warmup_cosine


def test_config_round_trip_sections_and_validation(tmp_path):
    cfg = TrainConfig(data=DataConfig(manifest="m.csv", class_names=["a", "b"]), run=RunConfig(out_dir="o"),
                      schedule=ScheduleConfig(epochs=3, batch_size=64))
    path = cfg.save(tmp_path / "job.json")
    assert TrainConfig.load(path) == cfg
    assert set(json.loads(path.read_text())) == {"data", "model", "optim", "schedule", "run"}
    bad = [
        {"data": {"manifest": "m", "data_root": "d"}},
        {"data": {"manifest": "m"}},  # no class names
        {"schedule": {"epochs": 0}},
        {"data": {"in_chans": 2}},
        {"data": {"input_size": 100}},
        {"optim": {"lr": float("nan")}},
        {"optim": {"lr_rule": "cubic"}},
        {"run": {"device": "tpu"}},
        {"schedule": {"batch_size": True}},
        {"model": {"pool": "median"}},
        {"data": {"augment": {"affine_p": 2}}},
        {"data": {"nonsense": 1}},
        {"extras": {}},
    ]
    for raw in bad:
        with pytest.raises(ConfigError):
            TrainConfig.from_dict(raw)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        TrainConfig.load(tmp_path / "broken.json")


def test_lr_rules_scale_with_the_global_batch():
    assert OptimConfig(lr=1e-3, lr_rule="none").scaled_lr(256) == pytest.approx(1e-3)
    assert OptimConfig(lr=1e-3, lr_rule="sqrt", reference_batch=64).scaled_lr(256) == pytest.approx(2e-3)
    assert OptimConfig(lr=1e-3, lr_rule="linear", reference_batch=64).scaled_lr(256) == pytest.approx(4e-3)


def test_flat_job_files_of_earlier_versions_still_load():
    """A job.json written before the config had sections, with what its omissions meant then."""
    cfg = TrainConfig.from_dict({"manifest": "m.csv", "class_names": ["a", "b"], "out_dir": "o", "batch_size": 16,
                                 "augment": "imagenet", "freeze_stem": True})
    assert cfg.data.manifest == "m.csv" and cfg.schedule.batch_size == 16 and cfg.model.freeze_stem
    assert cfg.data.crop == "random_resized" and not cfg.data.augment.dihedral and cfg.data.augment.hflip
    assert (cfg.optim.lr, cfg.optim.lr_rule, cfg.optim.reference_batch) == (1e-3, "linear", 256)
    assert cfg.optim.scaled_lr(16) == pytest.approx(6.25e-5)  # what the old default gave one CPU process
    assert not cfg.optim.ema and cfg.schedule.epochs == 10 and cfg.data.class_balanced is False
    with pytest.raises(ConfigError, match="unknown setting 'queue'"):
        TrainConfig.from_dict({"manifest": "m.csv", "class_names": ["a"], "queue": 1})


def test_warmup_then_cosine():
    lrs = [warmup_cosine(s, warmup_steps=10, total_steps=110) for s in range(110)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))  # monotone decay after warm-up
    assert lrs[-1] == pytest.approx(0.01, abs=0.01)


def test_epoch_order_splits_ranks_balances_and_repeats():
    targets = [0] * 90 + [1] * 10
    ranks = [epoch_order(targets, epoch=3, seed=1, balanced=True, rank=r, world_size=2) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 50
    ones = sum(targets[i] for d in ranks for i in d)
    assert 30 <= ones <= 70  # about half from the 10% class
    assert epoch_order(targets, epoch=4, seed=1, balanced=True, rank=0, world_size=2) != ranks[0]
    assert epoch_order(targets, epoch=3, seed=1, balanced=True, rank=0, world_size=2) == ranks[0]
    plain = [epoch_order(targets, epoch=0, seed=1, balanced=False, rank=r, world_size=3) for r in range(3)]
    assert sorted(i for p in plain for i in p)[:100] == list(range(100)) or set().union(*map(set, plain)) == set(range(100))
    assert len({len(p) for p in plain}) == 1  # padded: every rank the same number of steps


def test_class_balance_is_automatic_for_imbalanced_data():
    assert use_class_balance(DataConfig(), [0] * 70 + [1] * 30)
    assert not use_class_balance(DataConfig(), [0] * 55 + [1] * 45)
    assert not use_class_balance(DataConfig(class_balanced=False), [0] * 90 + [1] * 10)


def test_balanced_accuracy_from_confusion():
    confusion = torch.tensor([[90.0, 0.0], [10.0, 0.0]])  # always "good": 90% accurate, blind to defects
    m = confusion_metrics(confusion, loss_sum=50.0)
    assert m["val_acc"] == pytest.approx(0.9) and m["val_balanced_acc"] == pytest.approx(0.5)


def test_resume_state_loads_with_weights_only(tmp_path):
    torch.manual_seed(3)
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    from training.schedule import build_scheduler

    sched = build_scheduler(opt, warmup_steps=2, total_steps=10)
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
    sched.step()
    resume.atomic_torch_save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                              "scheduler": sched.state_dict(), "best": {"epoch": 0, "val_acc": 0.5}}, tmp_path / "s.pt")
    state = resume.safe_load(tmp_path / "s.pt")  # weights_only=True inside
    opt2 = torch.optim.AdamW(model.parameters(), lr=0.1)
    opt2.load_state_dict(state["optimizer"])
    sched2 = build_scheduler(opt2, warmup_steps=2, total_steps=10)
    sched2.load_state_dict(state["scheduler"])
    assert sched2.last_epoch == 1
    assert not list(tmp_path.glob(".*.tmp"))


def test_alphas_norms_biases_and_layer_scales_are_never_decayed():
    from core.model import create_model
    from training.model_setup import param_groups

    model = create_model("aan_t", 3, pool="attn", layer_scale=0.1)
    decay, no_decay = param_groups(model, 0.05)
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    ids = {id(p) for p in no_decay["params"]}
    assert all(id(a) in ids for a in model.alphas())  # the pooling heads' alphas too
    norms = [m for m in model.modules() if isinstance(m, (torch.nn.LayerNorm, torch.nn.BatchNorm2d))]
    assert norms and all(id(p) in ids for m in norms for p in m.parameters())
    assert all(id(p) not in ids for p in decay["params"]) and all(p.ndim > 1 for p in decay["params"])


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

    from core.inference.loader import ImageFiles
    from core.inference.preprocess import Preprocess
    from training.data import MemorySource, Sample, StreamSource, decode_resized

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 70, 3), dtype=np.uint8)).save(tmp_path / "rgb.png")
    Image.fromarray(rng.integers(0, 255, (40, 70), dtype=np.uint8)).save(tmp_path / "gray.png")
    for name in ("rgb.png", "gray.png"):
        for chans in (1, 3):
            path = str(tmp_path / name)
            inference = ImageFiles([path], Preprocess(32, chans, (0.5,) * chans, (0.5,) * chans))[0][1]
            assert torch.equal(decode_resized(path, chans, 32), inference), (name, chans)
            samples = [Sample(path, 0)]
            memory = next(MemorySource.decode(samples, chans, 32).batches([0], 1, drop_last=False))[0][0]
            stream = next(StreamSource(samples, chans, 32, num_workers=0).batches([0], 1, drop_last=False))[0][0]
            assert torch.equal(memory, inference) and torch.equal(stream, inference)
