"""The demo checkpoint shipped in assets/: what its metadata says is true of the file, and it scores
at least 97 % on a freshly generated copy of the default demo's test split (the images `make demo`
shows; the checkpoint was trained on other images of the same generator)."""
import sys
from pathlib import Path

import pytest

from core.data import demo, synth
from core.model.checkpoint import load_checkpoint
from training.data import MemorySource, Sample
from training.demo_model import score

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from make_demo_model import OUT as SHIPPED, TRAIN_SEED, generator_hash  # noqa: E402


def _demo_test_split(folder) -> tuple[list[Sample], int]:
    root = demo.make_demo_dataset(folder, n=demo.DEFAULT_N, seed=0)
    classes = sorted(synth.CLASSES)
    items = [it for it in demo.plan_demo_dataset(demo.DEFAULT_N, 0.0, 0) if it.split == "test"]
    samples = [Sample(str(root / it.rel_path), classes.index(it.given_label)) for it in items]
    return samples, len(items)


def test_the_shipped_demo_checkpoint_matches_its_metadata_and_scores_97_percent(tmp_path):
    assert SHIPPED.is_file(), f"{SHIPPED} is missing: python scripts/make_demo_model.py rebuilds it"
    assert SHIPPED.stat().st_size <= 10_000_000
    model, meta = load_checkpoint(SHIPPED)
    prov = meta.provenance
    assert (meta.arch, meta.class_names, meta.in_chans) == ("aan_s", sorted(synth.CLASSES), 1)
    assert meta.model["pool"] == model.config.pool
    # Trained on other images than the demo's: another seed of the same generator, unchanged since.
    assert prov["data"]["seed"] == TRAIN_SEED != 0 and prov["data"]["generator_sha256"] == generator_hash(), (
        "the demo generator changed since the checkpoint was built: python scripts/make_demo_model.py")
    samples, n = _demo_test_split(tmp_path / "demo")
    test = MemorySource.decode(samples, meta.in_chans, meta.input_size)
    accuracy = score(model, test, meta.mean, meta.std)
    assert prov["demo_test"]["images"] == n and accuracy == pytest.approx(prov["test_accuracy"], abs=1.01 / n)
    assert accuracy >= 0.97
