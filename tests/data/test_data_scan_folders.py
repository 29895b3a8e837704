"""ImageFolder and MVTec layouts, auto-detection, bad images inside a scan."""
from __future__ import annotations

import hashlib

import pytest

from core.errors import InspectorError, ScanError
from core.data.scan import scan_dataset
from core.progress import Reporter


def _by_path(result):
    return {im.rel_path: im for im in result.images}


def test_imagefolder_classes_nested_folders_and_unicode(tmp_path, write_image):
    root = tmp_path / "ds"
    write_image(root / "ok" / "a.png")
    write_image(root / "ok" / "2026-11-25" / "batch 7" / "b.jpg", (10, 10, 3))
    write_image(root / "Kratzer ü" / "Ölfleck 東京.png")
    write_image(root / "loose.bmp")  # directly in the root: unlabeled
    (root / "ok" / "notes.txt").write_text("not an image, ignored")
    write_image(root / ".hidden" / "x.png")
    write_image(root / "ok" / ".thumb.png")
    res = scan_dataset(root)
    assert res.format == "imagefolder"
    assert res.root == root
    assert res.class_names == ["Kratzer ü", "ok"]
    ims = _by_path(res)
    assert set(ims) == {"ok/a.png", "ok/2026-11-25/batch 7/b.jpg", "Kratzer ü/Ölfleck 東京.png", "loose.bmp"}
    assert ims["ok/2026-11-25/batch 7/b.jpg"].label == "ok"
    assert ims["ok/2026-11-25/batch 7/b.jpg"].channels == 3
    assert ims["Kratzer ü/Ölfleck 東京.png"].label == "Kratzer ü"
    assert ims["loose.bmp"].label is None
    assert all(im.split is None and im.error is None and im.category is None for im in res.images)
    a = ims["ok/a.png"]
    assert a.content_hash == hashlib.sha256((root / "ok" / "a.png").read_bytes()).hexdigest()
    assert (a.width, a.height, a.channels) == (16, 12, 1)
    assert [im.rel_path for im in res.images] == sorted(ims)


@pytest.mark.parametrize("val_name", ["val", "valid", "validation"])
def test_imagefolder_split_folders(tmp_path, write_image, val_name):
    root = tmp_path / "ds"
    for split in ("train", val_name, "test"):
        for cls in ("good", "bad"):
            write_image(root / split / cls / f"{split}_{cls}.png")
    res = scan_dataset(root, "imagefolder")
    assert res.class_names == ["bad", "good"]
    splits = {im.rel_path: (im.split, im.label) for im in res.images}
    assert splits[f"{val_name}/bad/{val_name}_bad.png"] == ("val", "bad")
    assert splits["train/good/train_good.png"] == ("train", "good")
    assert {s for s, _ in splits.values()} == {"train", "val", "test"}


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")  # Pillow's, for the corrupt TIFF
def test_bad_images_are_recorded_and_the_scan_goes_on(tmp_path, write_image):
    root = tmp_path / "ds"
    good = write_image(root / "c" / "good.png", (32, 32, 3))
    data = good.read_bytes()
    (root / "c" / "truncated.png").write_bytes(data[: len(data) // 2])
    (root / "c" / "zero.jpg").write_bytes(b"")
    (root / "c" / "text.png").write_text("hello")
    (root / "c" / "corrupt.tif").write_bytes(b"II*\x00" + b"\x07" * 100)
    from PIL import Image
    Image.new("L", (3000, 3000)).save(root / "c" / "bomb.png")
    calls = []
    res = scan_dataset(root, progress=Reporter(lambda d, t, _m: calls.append((d, t))), max_pixels=4_000_000)
    ims = _by_path(res)
    assert ims["c/good.png"].error is None
    errors = {p: im.error for p, im in ims.items() if im.error}
    assert set(errors) == {"c/truncated.png", "c/zero.jpg", "c/text.png", "c/corrupt.tif", "c/bomb.png"}
    assert "truncated" in errors["c/truncated.png"]
    assert "empty" in errors["c/zero.jpg"]
    assert "not a recognised image" in errors["c/text.png"]
    assert "decompression bomb" in errors["c/bomb.png"]
    assert ims["c/zero.jpg"].content_hash == hashlib.sha256(b"").hexdigest()
    assert res.errors and len(res.errors) == 5
    assert calls[0] == (0, 6) and calls[-1] == (6, 6)
    assert [d for d, _ in calls] == list(range(7))


def test_workers_do_not_change_the_result(tmp_path, write_image):
    root = tmp_path / "ds"
    for i in range(12):
        write_image(root / f"c{i % 3}" / f"{i}.png", seed=i)
    assert scan_dataset(root, workers=1).images == scan_dataset(root, workers=4).images


def _mvtec_category(root, write_image, *, train_defects=False):
    write_image(root / "train" / "good" / "000.png")
    write_image(root / "train" / "good" / "001.png")
    write_image(root / "test" / "good" / "000.png")
    write_image(root / "test" / "crack" / "000.png")
    write_image(root / "test" / "crack" / "001.png")
    write_image(root / "ground_truth" / "crack" / "000_mask.png")
    write_image(root / "ground_truth" / "crack" / "001_mask.png")
    if train_defects:
        write_image(root / "train" / "crack" / "t100.png")
        write_image(root / "ground_truth" / "crack" / "t100_mask.png")


def test_mvtec_single_category_links_masks(tmp_path, write_image):
    cat = tmp_path / "bottle"
    _mvtec_category(cat, write_image, train_defects=True)
    res = scan_dataset(cat)
    assert res.format == "mvtec" and res.class_names == ["crack", "good"]
    ims = _by_path(res)
    assert set(ims) == {"train/good/000.png", "train/good/001.png", "test/good/000.png",
                        "test/crack/000.png", "test/crack/001.png", "train/crack/t100.png"}
    assert ims["test/crack/001.png"].mask_rel_path == "ground_truth/crack/001_mask.png"
    assert ims["train/crack/t100.png"].mask_rel_path == "ground_truth/crack/t100_mask.png"
    assert ims["train/crack/t100.png"].split == "train"
    assert ims["test/good/000.png"].mask_rel_path is None
    assert ims["train/good/000.png"].label == "good"
    assert {im.category for im in res.images} == {"bottle"}


def test_mvtec_folder_of_categories(tmp_path, write_image):
    _mvtec_category(tmp_path / "mvtec" / "bottle", write_image)
    _mvtec_category(tmp_path / "mvtec" / "cable", write_image)
    (tmp_path / "mvtec" / "readme.txt").write_text("license")
    res = scan_dataset(tmp_path / "mvtec", "auto")
    assert res.format == "mvtec"
    ims = _by_path(res)
    assert len(ims) == 10
    assert ims["cable/test/crack/000.png"].mask_rel_path == "cable/ground_truth/crack/000_mask.png"
    assert ims["cable/test/crack/000.png"].category == "cable"
    assert not any(p.startswith(("bottle/ground_truth", "cable/ground_truth")) for p in ims)


def test_root_option_makes_paths_relative_to_it(tmp_path, write_image):
    write_image(tmp_path / "data" / "set1" / "a" / "x.png")
    res = scan_dataset(tmp_path / "data" / "set1", root=tmp_path / "data")
    assert res.root == tmp_path / "data"
    assert [im.rel_path for im in res.images] == ["set1/a/x.png"]
    with pytest.raises(ScanError, match="not inside the root"):
        scan_dataset(tmp_path / "data", root=tmp_path / "data" / "set1")


def test_symlinked_folders_are_not_followed(tmp_path, write_image):
    write_image(tmp_path / "outside" / "secret.png")
    write_image(tmp_path / "ds" / "a" / "x.png")
    (tmp_path / "ds" / "a" / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    res = scan_dataset(tmp_path / "ds")
    assert [im.rel_path for im in res.images] == ["a/x.png"]


def test_unrecognisable_inputs_give_clear_errors(tmp_path, write_image):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "sub").mkdir()
    (tmp_path / "empty" / "sub" / "notes.txt").write_text("x")
    with pytest.raises(ScanError, match="no images found"):
        scan_dataset(tmp_path / "empty")
    with pytest.raises(ScanError, match="no such file or folder"):
        scan_dataset(tmp_path / "missing")
    with pytest.raises(ScanError, match="unknown format"):
        scan_dataset(tmp_path / "empty", "coco")
    img = write_image(tmp_path / "one.png")
    with pytest.raises(ScanError, match="not a dataset folder"):
        scan_dataset(img)
    with pytest.raises(ScanError, match="not an MVTec"):
        scan_dataset(tmp_path / "empty", "mvtec")
    with pytest.raises(ScanError, match="needs a manifest file"):
        scan_dataset(tmp_path / "empty", "csv")
    with pytest.raises(InspectorError):
        scan_dataset(tmp_path / "empty", "imagefolder")
