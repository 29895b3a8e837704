"""Training data: the frozen manifest of a label snapshot, or an ImageFolder tree (ImageNet-1K style).

Both yield (image tensor, class index). The manifest is read once, up front, so that a row naming
an unknown class fails before the process group starts rather than in the middle of epoch three.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from training.config import ConfigError, FinetuneConfig

MANIFEST_COLUMNS = ("path", "content_hash", "label", "split")


@dataclass(frozen=True, slots=True)
class Sample:
    path: str
    label: int


def read_manifest(path: str | Path, class_names: list[str]) -> dict[str, list[Sample]]:
    """Rows per split. Unlabelled rows are skipped; relative paths are relative to the manifest."""
    path = Path(path)
    index = {name: i for i, name in enumerate(class_names)}
    splits: dict[str, list[Sample]] = {}
    try:
        f = open(path, newline="", encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such manifest") from None
    with f:
        reader = csv.DictReader(f)
        missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError(f"{path}: manifest lacks column {missing[0]!r} (needs {', '.join(MANIFEST_COLUMNS)})")
        for line, row in enumerate(reader, start=2):
            label = (row["label"] or "").strip()
            if not label:
                continue
            if label not in index:
                raise ConfigError(f"{path}, line {line}: label {label!r} is not one of the class names")
            image = Path(row["path"])
            if not image.is_absolute():
                image = path.parent / image
            splits.setdefault((row["split"] or "train").strip(), []).append(Sample(str(image), index[label]))
    return splits


def load_uint8(path: str, in_chans: int) -> torch.Tensor:
    """(in_chans, H, W) uint8, decoded and channel-matched by the very functions inference uses
    (core.inference.loader.decode, core.inference.preprocess.match_channels): a model must see the
    same pixels in training and in use."""
    from core.inference.loader import decode
    from core.inference.preprocess import match_channels

    return match_channels(decode(path), in_chans)


class SampleDataset(Dataset):
    def __init__(self, samples: list[Sample], in_chans: int, transform):
        self.samples = samples
        self.in_chans = in_chans
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        s = self.samples[i]
        return self.transform(load_uint8(s.path, self.in_chans)), s.label

    @property
    def targets(self) -> list[int]:
        return [s.label for s in self.samples]


def image_folder_samples(root: Path, split: str, class_names: list[str]) -> tuple[list[Sample], list[str]]:
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    folder = root / split
    if not folder.is_dir():
        raise ConfigError(f"{root}: no {split}/ folder (an ImageFolder root needs train/ and val/)")
    found, _ = find_classes(str(folder))
    names = class_names or found
    if sorted(names) != sorted(found):
        raise ConfigError(f"{folder}: class folders do not match class_names")
    index = {n: i for i, n in enumerate(names)}
    pairs = make_dataset(str(folder), {n: index[n] for n in found}, extensions=IMG_EXTENSIONS)
    return [Sample(p, y) for p, y in pairs], names


def resolve_class_names(cfg: FinetuneConfig) -> list[str]:
    if cfg.class_names:
        return list(cfg.class_names)
    from torchvision.datasets.folder import find_classes

    folder = Path(cfg.data_root) / "train"
    if not folder.is_dir():
        raise ConfigError(f"{cfg.data_root}: no train/ folder (an ImageFolder root needs train/ and val/)")
    return find_classes(str(folder))[0]


def build_datasets(cfg: FinetuneConfig, names: list[str], mean, std) -> tuple[SampleDataset, SampleDataset | None]:
    from training.transforms import eval_transform, train_transform

    if cfg.manifest is not None:
        splits = read_manifest(cfg.manifest, names)
        train, val = splits.get("train", []), splits.get("val", [])
    else:
        root = Path(cfg.data_root)
        train = image_folder_samples(root, "train", names)[0]
        val = image_folder_samples(root, "val", names)[0] if (root / "val").is_dir() else []
    if not train:
        raise ConfigError("no labelled training images (split 'train')")
    train_ds = SampleDataset(train, cfg.in_chans, train_transform(cfg, mean, std))
    val_ds = SampleDataset(val, cfg.in_chans, eval_transform(cfg, mean, std)) if val else None
    return train_ds, val_ds
