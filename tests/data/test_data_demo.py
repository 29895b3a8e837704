"""The synthetic demo dataset: determinism, layout, masks, no trivial class cue, planted noise."""
from __future__ import annotations

import csv
import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from app.cli import main as cli_main
from core.data.decode import load_image
from core.data.demo import CATEGORY, make_demo_dataset, plan_demo_dataset
from core.data.scan import scan_dataset
from core.data.synth import CLASSES, DEFECTS, MASK_LEVEL, render_sample
from core.errors import InspectorError


def _tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(f.relative_to(folder).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _true_labels(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = make_demo_dataset(tmp_path / "a", n=20, noise=0.2, seed=7)
    b = make_demo_dataset(tmp_path / "b", n=20, noise=0.2, seed=7)
    c = make_demo_dataset(tmp_path / "c", n=20, noise=0.2, seed=8)
    assert _tree_digest(tmp_path / "a") == _tree_digest(tmp_path / "b")
    assert _tree_digest(tmp_path / "a") != _tree_digest(tmp_path / "c")
    assert a.name == CATEGORY and a.parent == tmp_path / "a"
    assert not [p for p in tmp_path.rglob(".*")]  # no staging left behind


def test_layout_scans_as_mvtec_with_masks_for_every_defect(tmp_path):
    root = make_demo_dataset(tmp_path, n=40, seed=1)
    res = scan_dataset(tmp_path)  # the parent: a folder of categories
    assert res.format == "mvtec" and res.class_names == sorted(CLASSES)
    assert all(im.error is None and im.category == CATEGORY for im in res.images)
    assert {(im.width, im.height, im.channels) for im in res.images} == {(224, 224, 3)}
    by_split = Counter((im.split, im.label) for im in res.images)
    for cls in CLASSES:
        assert by_split[("train", cls)] >= 1 and by_split[("test", cls)] >= 1
    for im in res.images:
        assert (im.mask_rel_path is None) == (im.label == "good")
    # Every defect image in BOTH splits has its mask, as a 0/255 image covering a small area.
    defect_train = [im for im in res.images if im.split == "train" and im.label != "good"]
    assert defect_train and all(im.mask_rel_path for im in defect_train)
    for im in res.images[:12]:
        if im.mask_rel_path:
            m = load_image(tmp_path / im.mask_rel_path)
            assert m.shape == (224, 224) and set(np.unique(m)) <= {0, 255}
            assert 0 < (m > 0).mean() < 0.3
    assert scan_dataset(root).images[0].rel_path.startswith(("train/", "test/"))


@pytest.mark.parametrize("kind", DEFECTS)
def test_mask_marks_exactly_the_pixels_the_defect_changed(kind):
    for seed in range(4):
        s = render_sample(kind, np.random.default_rng(seed))
        diff = np.abs(s.image.astype(int) - s.clean.astype(int)).max(axis=2)
        assert s.mask.any() and diff.max() >= 15
        # Outside the mask the defect moved no pixel by a visible amount...
        assert diff[~s.mask].max() <= int(np.ceil(MASK_LEVEL * 255))
        # ...and inside it nearly every pixel changed (a few may sit at the clipping limit).
        assert (diff[s.mask] >= 2).mean() > 0.95


def test_good_images_have_no_mask_and_no_change():
    s = render_sample("good", np.random.default_rng(0))
    assert not s.mask.any() and np.array_equal(s.image, s.clean)


def test_no_global_brightness_or_colour_cue_between_classes():
    stats = {k: np.array([render_sample(k, np.random.default_rng(1000 + i), 96).image.reshape(-1, 3).mean(axis=0)
                          for i in range(25)]) for k in CLASSES}
    good = stats["good"]
    spread = good.std(axis=0)
    for kind in DEFECTS:
        gap = np.abs(stats[kind].mean(axis=0) - good.mean(axis=0))
        assert np.all(gap < 0.5 * spread), (kind, gap, spread)


def test_noise_flips_training_labels_and_records_the_truth(tmp_path):
    n, noise = 60, 0.25
    root = make_demo_dataset(tmp_path, n=n, noise=noise, seed=3)
    rows = _true_labels(tmp_path / "true_labels.csv")
    assert len(rows) == n
    n_train = sum(r["rel_path"].startswith("train/") for r in rows)
    flipped = [r for r in rows if r["true_label"] != r["given_label"]]
    assert len(flipped) == round(noise * n_train)
    assert all(r["rel_path"].startswith("train/") for r in flipped)
    for r in rows:
        split, folder, name = r["rel_path"].split("/")
        assert folder == r["given_label"] and (root / r["rel_path"]).is_file()
        mask = root / "ground_truth" / folder / name.replace(".png", "_mask.png")
        assert mask.is_file() == (r["true_label"] != "good")  # masks describe pixels, not labels
    # The scanner sees the given (noisy) labels.
    scanned = {im.rel_path: im.label for im in scan_dataset(root).images}
    assert scanned == {r["rel_path"]: r["given_label"] for r in rows}


def test_file_names_do_not_reveal_the_class():
    plan = plan_demo_dataset(100, seed=0)
    assert sorted(it.index for it in plan) == list(range(100))
    good_numbers = sorted(it.index for it in plan if it.true_label == "good")
    assert good_numbers != list(range(len(good_numbers)))


def test_invalid_arguments_and_existing_output(tmp_path):
    for kwargs in ({"n": 3}, {"noise": 1.0}, {"noise": -0.1}, {"seed": -1}):
        with pytest.raises(InspectorError):
            make_demo_dataset(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()
    make_demo_dataset(tmp_path, n=10)
    with pytest.raises(InspectorError, match="already exists"):
        make_demo_dataset(tmp_path, n=10)
    make_demo_dataset(tmp_path, n=12, overwrite=True)
    assert len(list((tmp_path / CATEGORY).glob("t*/*/*.png"))) == 12


def test_cli_demo_data(tmp_path, capsys):
    assert cli_main(["demo-data", str(tmp_path / "out"), "--n", "12", "--noise", "0.2", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert "wrote 12 images" in out and out.count("\n") == 1
    assert (tmp_path / "out" / CATEGORY / "train").is_dir()
    for bad in (["--n", "many"], ["--noise", "2"], ["--seed", "x"]):
        assert cli_main(["demo-data", str(tmp_path / "bad"), *bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("inspector: error:") and err.count("\n") == 1
    assert not (tmp_path / "bad").exists()


def test_defect_strength_makes_fainter_smaller_defects_and_one_changes_nothing():
    for kind in ("scratch", "spot", "contamination"):
        full = render_sample(kind, np.random.default_rng(5), 96)
        same = render_sample(kind, np.random.default_rng(5), 96, strength=1.0)
        faint = render_sample(kind, np.random.default_rng(5), 96, strength=0.5)
        assert np.array_equal(full.image, same.image)  # the demo and its shipped models are unchanged
        assert np.array_equal(full.clean, faint.clean)  # same part, same draw: only the defect differs
        change = lambda s: np.abs(s.image.astype(int) - s.clean.astype(int)).sum()  # noqa: E731
        assert 0 < change(faint) < 0.7 * change(full)
        assert faint.mask.sum() <= full.mask.sum() and faint.mask.sum() > 0
