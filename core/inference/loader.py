"""Decode + resize image files in DataLoader worker processes, never failing a batch.

Each item comes back as (position, uint8 (C, s, s) tensor, error message or ""). A file that cannot
be read gives a zero image and its error: the caller stores nothing for it and counts it, and one
bad file never stops a run of thousands.

Decoding goes through `core.data.decode.load_image` (EXIF, 16-bit stretch, alpha on white,
palettes), so prediction sees the pixels that import and training see. (torchvision's own decoders
are deprecated since 0.29 and would treat those cases differently.)
"""
from __future__ import annotations

import os
from typing import Sequence

import torch
from torch.utils.data import DataLoader, Dataset

from core.inference.preprocess import Preprocess


class ImageFiles(Dataset):
    def __init__(self, paths: Sequence[str | os.PathLike], pre: Preprocess):
        self.paths = [str(p) for p in paths]
        self.pre = pre

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor, str]:
        try:
            return i, self.pre.to_uint8(decode(self.paths[i])), ""
        except Exception as e:  # noqa: BLE001 - any failure on one file is that file's problem
            s = self.pre.input_size
            return i, torch.zeros(self.pre.in_chans, s, s, dtype=torch.uint8), _reason(e)


def decode(path: str) -> torch.Tensor:
    """File -> (C, H, W) uint8 tensor, C in (1, 3), exactly the pixels import and training see."""
    from core.data.decode import load_image

    t = torch.from_numpy(load_image(path))
    return t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1)


def _reason(e: Exception) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return msg[:300]


def _worker_init(_: int) -> None:
    # Workers decode one image each; extra intra-op threads would only fight the model for cores.
    torch.set_num_threads(1)


def _collate(items: list[tuple[int, torch.Tensor, str]]) -> tuple[list[int], torch.Tensor, list[str]]:
    idx, imgs, errs = zip(*items)
    return list(idx), torch.stack(imgs), list(errs)


def make_loader(paths: Sequence[str | os.PathLike], pre: Preprocess, *, batch_size: int, num_workers: int,
                pin_memory: bool = False) -> DataLoader:
    return DataLoader(
        ImageFiles(paths, pre),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=_collate,
        worker_init_fn=_worker_init if num_workers else None,
        pin_memory=pin_memory,
        prefetch_factor=4 if num_workers else None,
        persistent_workers=False,
    )


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_workers() -> int:
    """Decoding processes for this machine. A 224 px PNG costs about 1.4 ms to decode, a third to a
    half of the model's CPU time per image, so a quarter of the cores decode and the rest run the
    model (at most 8 workers). On 2 cores in-process decoding wins (bench/predict_pipeline.py:
    a worker takes a whole core from the model's two threads)."""
    cores = cpu_count()
    return 0 if cores <= 2 else max(1, min(8, cores // 4))
