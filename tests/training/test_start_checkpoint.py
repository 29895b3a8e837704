"""The shipped starting point (assets/aan_s_start.safetensors): it loads and matches its metadata, and
`finetune --base aan_s` starts from it (its provenance in the job's base model), `--from-scratch` not."""
import sys
from pathlib import Path

import pytest

from core.model.checkpoint import load_checkpoint
from training.pretrain import START_CHECKPOINT, resolve_base

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from make_start_checkpoint import generator_fingerprint  # noqa: E402


@pytest.mark.slow  # about 15 s: the fingerprint finds the 1000 formula categories again
def test_the_shipped_start_matches_its_metadata():
    assert START_CHECKPOINT.is_file() and START_CHECKPOINT.stat().st_size <= 10_000_000
    model, meta = load_checkpoint(START_CHECKPOINT)
    data, held = meta.provenance["data"], meta.provenance["held_out"]
    assert meta.arch == "aan_s" and len(meta.class_names) == data["categories"] and meta.in_chans == data["in_chans"]
    assert data["generator_fingerprint"] == generator_fingerprint(data["categories"], data["input_size"], data["seed"]), (
        "the formula generator changed since the start was built: python scripts/make_start_checkpoint.py")
    assert held["accuracy"] > 10 * held["chance"]  # it learned its task
    assert model.config.pool == meta.model["pool"]


def test_finetune_from_an_architecture_starts_from_the_shipped_start_unless_from_scratch():
    assert resolve_base("aan_s") == str(START_CHECKPOINT)
    assert resolve_base("aan_s", from_scratch=True) == "aan_s"
    assert resolve_base("aan_t") == "aan_t"  # no start shipped for it


@pytest.mark.slow  # two short trainings in this process
def test_train_demo_starts_from_the_shipped_start_unless_from_scratch(tmp_path, project_factory):
    """`inspector train-demo` trains as `finetune --base aan_s` does: from the shipped start."""
    from core.model.checkpoint import read_metadata
    from usecases.demo_project import train_demo

    project = project_factory(tmp_path, n_per_class=4)
    started = train_demo(project, tmp_path / "start.safetensors", epochs=1, input_size=64)
    scratch = train_demo(project, tmp_path / "scratch.safetensors", epochs=1, input_size=64, from_scratch=True)
    start_meta, scratch_meta = read_metadata(started.path), read_metadata(scratch.path)
    assert start_meta.provenance["start"]["file"] == START_CHECKPOINT.name
    assert start_meta.parent == START_CHECKPOINT.name
    assert "start" not in scratch_meta.provenance and scratch_meta.provenance["base"] == "aan_s"
    assert start_meta.model == scratch_meta.model  # the same architecture either way


@pytest.mark.slow  # a real one-process pretraining job of two steps at 32 px
def test_one_more_stage_extends_the_starts_history(tmp_path):
    """scripts/make_start_checkpoint.py --continue-from: the exported start says what it was built
    from (the earlier command and stages) and adds this stage's command and outcome. The start it
    continues is a small one made here (10 categories) with the shipped start's kind of provenance."""
    from make_start_checkpoint import main as make_start

    from core.model import create_model
    from core.model.checkpoint import CheckpointMeta, read_metadata, save_checkpoint
    from training.formula_images import category_names

    stage = {"categories": 10, "epochs": 1, "held_out": {"images": 20, "accuracy": 0.5, "chance": 0.1},
             "images_seen": 64, "steps": 2}
    before = {"command": "python scripts/make_start_checkpoint.py --work DIR --categories 10",
              "curriculum": [stage], "base": "aan_t", "held_out": stage["held_out"],
              "data": {"categories": 10, "generator": "training.formula_images", "seed": 0, "input_size": 32,
                       "in_chans": 1, "generator_fingerprint": "x"},
              "epochs_planned": 1, "epochs": 1, "steps": 2, "images_seen": 64}
    start = tmp_path / "start.safetensors"
    save_checkpoint(start, create_model("aan_t", 10, 1, pool="lse"),
                    CheckpointMeta(arch="aan_t", class_names=category_names(10), in_chans=1, input_size=32,
                                   mean=(0.5,), std=(0.25,), provenance=before))
    out = tmp_path / "more.safetensors"
    rc = make_start(["--work", str(tmp_path / "more"), "--continue-from", str(start), "--out", str(out),
                     "--epochs", "1", "--input-size", "64", "--images-per-epoch", "64", "--batch-size", "32",
                     "--nproc", "1", "--lr", "1e-4"])
    assert rc == 0
    after = read_metadata(out).provenance
    assert after["command"].startswith(before["command"] + " && ")
    assert "--continue-from assets/aan_s_start.safetensors --epochs 1 --input-size 64" in after["command"]
    assert after["curriculum"][0] == stage
    added = after["curriculum"][1]
    assert added["input_size"] == 64 and added["steps"] == 2 and added["images_seen"] == 64
    assert after["steps"] == 4 and after["images_seen"] == 128 and after["epochs"] == 2
    assert after["data"]["input_size"] == 64 and after["data"]["categories"] == 10
    assert after["held_out"] == added["held_out"] and added["held_out"]["images"] > 0
    model, meta = load_checkpoint(out)
    assert meta.arch == "aan_t" and meta.class_names == category_names(10)  # the pretraining head is kept


def test_continuing_a_checkpoint_that_is_no_built_start_is_refused(tmp_path):
    from make_start_checkpoint import main as make_start

    from core.model import create_model
    from core.model.checkpoint import CheckpointMeta, save_checkpoint

    foreign = tmp_path / "foreign.safetensors"
    save_checkpoint(foreign, create_model("aan_t", 3, 1), CheckpointMeta(arch="aan_t", class_names=["a", "b", "c"]))
    with pytest.raises(SystemExit, match="foreign.safetensors: not a start built by this script"):
        make_start(["--work", str(tmp_path / "more"), "--continue-from", str(foreign), "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists() and not (tmp_path / "more" / "job.json").exists()
