"""Training data: which images (a label snapshot's manifest, an ImageFolder tree, or items handed in
by the caller), and how batches reach the trainer.

Either way a batch is (uint8 images (B, C, s, s), class indices (B,), dataset indices (B,)): images
are decoded and resized exactly as inference does (`core.inference.preprocess.Preprocess.to_uint8`:
the whole image to s x s, no crop), and everything random happens later, on the training device,
to whole batches (`training.augment`). Two ways to get there:

  in memory   every image decoded once, kept as one uint8 tensor (a few hundred MB for thousands of
              images): an epoch costs only the forward and backward passes. The small-data default.
  streaming   a DataLoader decodes in worker processes, for datasets that do not fit (ImageNet).

The manifest is read once, up front, so that a row naming an unknown class fails before the process
group starts rather than in the middle of epoch three.
"""
from __future__ import annotations

import csv
import hashlib
import math
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from training.config import ConfigError, DataConfig

MANIFEST_COLUMNS = ("path", "content_hash", "label", "split")
IN_MEMORY_LIMIT_BYTES = 2 << 30  # decode up front when the uint8 tensors take at most this
BALANCE_RATIO = 2.0  # class-balanced sampling by default when the largest class has this times the smallest


@dataclass(frozen=True, slots=True)
class Sample:
    path: str
    label: int  # index into the class names


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


def image_folder_samples(root: Path, split: str, class_names: list[str]) -> list[Sample]:
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    folder = root / split
    if not folder.is_dir():
        raise ConfigError(f"{root}: no {split}/ folder (an ImageFolder root needs train/ and val/)")
    found, _ = find_classes(str(folder))
    if sorted(class_names) != sorted(found):
        raise ConfigError(f"{folder}: class folders do not match class_names")
    index = {n: i for i, n in enumerate(class_names)}
    pairs = make_dataset(str(folder), {n: index[n] for n in found}, extensions=IMG_EXTENSIONS)
    return [Sample(p, y) for p, y in pairs]


def resolve_class_names(cfg: DataConfig) -> list[str]:
    if cfg.class_names:
        return list(cfg.class_names)
    if cfg.source == "formula":
        from training.formula_images import category_names

        return category_names(cfg.formula_categories)
    if cfg.data_root is None:
        raise ConfigError("data: no class names and no data_root to find them in")
    from torchvision.datasets.folder import find_classes

    folder = Path(cfg.data_root) / "train"
    if not folder.is_dir():
        raise ConfigError(f"{cfg.data_root}: no train/ folder (an ImageFolder root needs train/ and val/)")
    return find_classes(str(folder))[0]


def config_samples(cfg: DataConfig, class_names: list[str]) -> tuple[list[Sample], list[Sample]]:
    """(train, val) samples named by the config's manifest or ImageFolder root."""
    if cfg.manifest is not None:
        splits = read_manifest(cfg.manifest, class_names)
        train, val = splits.get("train", []), splits.get("val", [])
    elif cfg.data_root is not None:
        root = Path(cfg.data_root)
        train = image_folder_samples(root, "train", class_names)
        val = image_folder_samples(root, "val", class_names) if (root / "val").is_dir() else []
    else:
        raise ConfigError("data: give a manifest or a data_root (or hand the trainer its images)")
    if not train:
        raise ConfigError("no labelled training images (split 'train')")
    return train, val


def decode_resized(path: str, in_chans: int, size: int) -> torch.Tensor:
    """(in_chans, size, size) uint8: the pixels inference sees for this file."""
    from core.inference.loader import decode
    from core.inference.preprocess import Preprocess

    return Preprocess(size, in_chans, (0.0,) * in_chans, (1.0,) * in_chans).to_uint8(decode(path))


# --- the two ways of feeding batches -----------------------------------------------------------


class ImageSource:
    """A split's images for the trainer: `targets`, `len()`, `batches(order, batch_size)`."""

    targets: list[int]

    def __len__(self) -> int:
        return len(self.targets)

    def batches(self, order: Sequence[int], batch_size: int, *, drop_last: bool) -> Iterator[tuple]:
        raise NotImplementedError

    def pixels_for_stats(self) -> torch.Tensor | None:
        """uint8 images to compute normalisation statistics from, if cheaply available."""
        return None


class MemorySource(ImageSource):
    """Decoded images kept as one uint8 tensor (N, C, s, s)."""

    def __init__(self, images: torch.Tensor, targets: Sequence[int]):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError("expected uint8 images (N, C, s, s)")
        if len(images) != len(targets):
            raise ValueError("one target per image")
        self.images = images
        self.targets = [int(t) for t in targets]
        self.kept = list(range(len(images)))
        self._y = torch.tensor(self.targets, dtype=torch.long)

    @classmethod
    def decode(cls, samples: Sequence[Sample], in_chans: int, size: int, *, threads: int | None = None,
               reporter=None) -> "MemorySource":
        """Decode every file once (threads: PIL and the resize release the GIL). A file that cannot
        be read is left out: the importer reports those, training goes on without them."""
        from core.data.decode import ImageDecodeError

        def one(s: Sample) -> torch.Tensor | None:
            try:
                return decode_resized(s.path, in_chans, size)
            except (ImageDecodeError, OSError, ValueError):
                return None

        workers = threads or min(4, os.cpu_count() or 1)
        images: list[torch.Tensor] = []
        targets: list[int] = []
        kept: list[int] = []
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for i, (s, img) in enumerate(zip(samples, pool.map(one, samples)), 1):
                if img is not None:
                    images.append(img)
                    targets.append(s.label)
                    kept.append(i - 1)
                if reporter is not None and (i % 64 == 0 or i == len(samples)):
                    reporter.check()
                    reporter.progress(i, len(samples), f"decoding images {i}/{len(samples)}")
        if not images:
            raise ConfigError("none of the training images could be read")
        source = cls(torch.stack(images), targets)
        source.kept = kept  # positions in `samples` of the images that were read
        return source

    def batches(self, order: Sequence[int], batch_size: int, *, drop_last: bool) -> Iterator[tuple]:
        idx = torch.as_tensor(list(order), dtype=torch.long)
        for start in range(0, len(idx), batch_size):
            b = idx[start:start + batch_size]
            if drop_last and len(b) < batch_size:
                return
            yield self.images[b], self._y[b], b

    def pixels_for_stats(self) -> torch.Tensor:
        return self.images


class _Files(Dataset):
    def __init__(self, samples: Sequence[Sample], in_chans: int, size: int, crop: str, seed: int):
        self.samples, self.in_chans, self.size, self.crop, self.seed = list(samples), in_chans, size, crop, seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        s = self.samples[i]
        if self.crop == "random_resized":
            img = _random_resized_crop(s.path, self.in_chans, self.size, _seed(self.seed, self.epoch, i))
        else:
            img = decode_resized(s.path, self.in_chans, self.size)
        return img, s.label, i


class StreamSource(ImageSource):
    """Images decoded (or generated) by DataLoader workers for each batch."""

    def __init__(self, samples: Sequence[Sample], in_chans: int, size: int, *, crop: str = "none", seed: int = 0,
                 num_workers: int = 2, pin_memory: bool = False, dataset=None):
        # `dataset`: any map-style dataset of (uint8 image, label, index) with `epoch` and `label(i)`
        # (the generated pretraining images) instead of files.
        self.files = dataset if dataset is not None else _Files(samples, in_chans, size, crop, seed)
        self.targets = [dataset.label(i) for i in range(len(dataset))] if dataset is not None else [s.label for s in samples]
        self.num_workers, self.pin_memory = num_workers, pin_memory

    def set_epoch(self, epoch: int) -> None:
        self.files.epoch = epoch  # random crops depend on (seed, epoch, index): a resume redraws them

    def batches(self, order: Sequence[int], batch_size: int, *, drop_last: bool) -> Iterator[tuple]:
        from training.preemption import iterate, worker_init

        loader = DataLoader(self.files, batch_size=batch_size, sampler=_Fixed(order), num_workers=self.num_workers,
                            drop_last=drop_last, pin_memory=self.pin_memory, worker_init_fn=worker_init,
                            collate_fn=_collate)
        it = iterate(loader)
        try:
            yield from it
        finally:  # now, not whenever the iterator is collected (see the trainer's closing())
            shutdown = getattr(it, "_shutdown_workers", None)
            if shutdown is not None:
                shutdown()


class _Fixed(Sampler[int]):
    def __init__(self, order: Sequence[int]):
        self.order = list(order)

    def __iter__(self) -> Iterator[int]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


def _collate(items):
    imgs, ys, idx = zip(*items)
    return torch.stack(imgs), torch.tensor(ys, dtype=torch.long), torch.tensor(idx, dtype=torch.long)


def _seed(*parts: int) -> int:
    digest = hashlib.blake2b(",".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


def _random_resized_crop(path: str, in_chans: int, size: int, seed: int) -> torch.Tensor:
    """RandomResizedCrop(scale 0.08-1, ratio 3/4-4/3) with its own seeded generator."""
    from core.image_ops import resize
    from core.inference.loader import decode
    from core.inference.preprocess import match_channels

    img = match_channels(decode(path), in_chans)
    h, w = img.shape[-2:]
    g = torch.Generator().manual_seed(seed)
    for _ in range(10):
        area = h * w * (0.08 + 0.92 * torch.rand(1, generator=g).item())
        log_ratio = math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * torch.rand(1, generator=g).item()
        cw = round(math.sqrt(area * math.exp(log_ratio)))
        ch = round(math.sqrt(area / math.exp(log_ratio)))
        if 0 < cw <= w and 0 < ch <= h:
            top = int(torch.randint(0, h - ch + 1, (1,), generator=g))
            left = int(torch.randint(0, w - cw + 1, (1,), generator=g))
            return resize(img[..., top:top + ch, left:left + cw], (size, size)).contiguous()
    return resize(img, (size, size)).contiguous()


# --- epoch order --------------------------------------------------------------------------------


def use_class_balance(cfg: DataConfig, targets: Sequence[int]) -> bool:
    if cfg.class_balanced is not None:
        return cfg.class_balanced
    counts = Counter(targets)
    return len(counts) > 1 and max(counts.values()) >= BALANCE_RATIO * min(counts.values())


def epoch_order(targets: Sequence[int], *, epoch: int, seed: int, balanced: bool, rank: int = 0,
                world_size: int = 1) -> list[int]:
    """This rank's share of one epoch's order: a permutation (or, class-balanced, a draw with
    replacement giving every class the same weight), the same on every rank for (seed, epoch), of
    which each rank keeps every world_size-th index: no overlap, no communication, and a resumed
    run recomputes it exactly."""
    n = len(targets)
    per_rank = math.ceil(n / world_size)
    total = per_rank * world_size
    g = torch.Generator().manual_seed(_seed(seed, epoch, 17))
    if balanced:
        counts = Counter(targets)
        weights = torch.tensor([1.0 / counts[t] for t in targets], dtype=torch.double)
        order = torch.multinomial(weights, total, replacement=True, generator=g).tolist()
    else:
        order = torch.randperm(n, generator=g).tolist()
        order += order[: total - n]  # pad so that every rank gets the same count
    return order[rank:total:world_size]


def step_seed(seed: int, global_step: int, rank: int) -> int:
    """The augmentation generator's seed for one optimiser step of one rank."""
    return _seed(seed, global_step, rank, 29)


def pixel_stats(images: torch.Tensor, max_images: int = 2048) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images (N, C, s, s), in 0..1 units."""
    x = images[: max_images].float().div_(255.0)
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return tuple(round(float(v), 5) for v in mean), tuple(round(float(v), 5) for v in std)
