"""Batched prediction over a project: decode in worker processes, infer, store per model version.

Resumable: images that already have a prediction from this model version are skipped, and results
are written in chunks (one transaction each), so a cancelled or crashed run keeps what it stored.
Cancellable between batches. Unreadable files are skipped and counted, never fatal.

On CUDA the model runs in channels_last under bf16 autocast; uint8 batches travel to the device
(pinned) and are normalised there, four times less to copy than float32.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from core.errors import InspectorError
from core.inference.loader import cpu_count, default_workers, make_loader
from core.inference.preprocess import Preprocess
from core.progress import Reporter, silent

if TYPE_CHECKING:
    from core.store.project import Project

WRITE_EVERY = 512  # images per store transaction: few commits, little lost work on a crash


@dataclass
class PredictReport:
    model_id: int
    device: str
    total: int = 0  # images the run considered (readable, present)
    already: int = 0  # had a prediction from this model version: skipped
    predicted: int = 0  # newly stored
    unreadable: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (image id, why) for unreadable ones
    cancelled: bool = False
    seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        return self.predicted / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        parts = [f"{self.predicted} predicted", f"{self.already} already done", f"{self.unreadable} unreadable"]
        state = "cancelled" if self.cancelled else "done"
        return f"model {self.model_id}: {', '.join(parts)} ({state}, {self.seconds:.1f} s, {self.images_per_second:.0f} img/s on {self.device})"


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InspectorError("--device cuda: no CUDA device is available here (use auto or cpu)")
    if device != "cpu" and not device.startswith("cuda"):
        raise InspectorError(f"unknown device {device!r}: use auto, cpu or cuda")
    return torch.device(device)


def prepare_model(model: nn.Module, device: torch.device) -> nn.Module:
    model = model.eval().to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model


def infer(model: nn.Module, batch_uint8: torch.Tensor, pre: Preprocess, device: torch.device) -> torch.Tensor:
    """uint8 (B, C, s, s) -> float32 probabilities (B, K) on the CPU."""
    x = pre.normalise(batch_uint8.to(device, non_blocking=True))
    with torch.inference_mode():
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = model(x)
        else:
            logits = model(x)
        return logits.float().softmax(dim=-1).cpu()


def predict_paths(
    model: nn.Module,
    pre: Preprocess,
    paths: Sequence[str],
    *,
    device: torch.device,
    batch_size: int = 32,
    num_workers: int | None = None,
    progress: Reporter | None = None,
) -> Iterator[tuple[list[int], np.ndarray, list[tuple[int, str]]]]:
    """Yields per batch (positions into `paths` that decoded, their probs (n, K), [(position, error)]);
    stops early, between batches, once `progress` is cancelled."""
    progress = progress or silent()
    workers = default_workers() if num_workers is None else num_workers
    loader = make_loader(paths, pre, batch_size=batch_size, num_workers=workers, pin_memory=device.type == "cuda")
    threads = torch.get_num_threads()
    if device.type == "cpu" and workers:
        # Decoding workers and the model's threads on the same cores: an oversubscribed OpenMP pool
        # spin-waits and loses far more than it gains (measured: 2 model threads + 1 worker on
        # 2 cores is slower than decoding in-process). Leave one core per worker, process-wide.
        torch.set_num_threads(max(1, min(threads, cpu_count() - workers)))
    it = iter(loader)
    try:
        for idx, batch, errs in it:
            if progress.cancelled:
                return
            ok = [j for j, e in enumerate(errs) if not e]
            bad = [(idx[j], e) for j, e in enumerate(errs) if e]
            probs = infer(model, batch[ok], pre, device).numpy() if ok else np.zeros((0, 0), np.float32)
            yield [idx[j] for j in ok], probs, bad
    finally:
        del it  # shuts the worker processes down now, also on cancel or error
        torch.set_num_threads(threads)


def predict_project(
    project: Project,
    model_id: int,
    *,
    device: str = "auto",
    batch_size: int = 32,
    num_workers: int | None = None,
    progress: Reporter | None = None,
    model: nn.Module | None = None,
) -> PredictReport:
    """Predict every readable image of the project that model version `model_id` has not predicted yet.

    `model` may pass an already loaded model for `model_id` (else its checkpoint is loaded). A cancel
    of `progress` stops between batches and returns a report with `cancelled` set: what was
    predicted until then is stored, and the next run goes on from there.
    """
    progress = progress or silent()
    from core.edge.onnx_model import OnnxClassifier, is_onnx_path
    from core.model.checkpoint import load_checkpoint, read_metadata
    from core.store import model_versions
    from core.store import predictions as store_predictions

    t0 = time.monotonic()
    dev = resolve_device(device)
    with project.session() as session:
        record = model_versions.get_model_version(session, model_id)
        todo_ids, todo_paths, total = _images_to_predict(session, model_id)
    meta = read_metadata(record.path)
    if model is None and is_onnx_path(record.path):
        # onnxruntime picks its own provider for `device`; the batches it is fed stay on the CPU.
        model, dev = OnnxClassifier(record.path, device=device), torch.device("cpu")
    elif model is None:
        model, meta = load_checkpoint(record.path, device="cpu")
    model = prepare_model(model, dev)
    pre = Preprocess.from_meta(meta)
    report = PredictReport(model_id=model_id, device=str(dev), total=total, already=total - len(todo_ids))
    progress.progress(0, len(todo_ids), f"0/{len(todo_ids)} images")

    pending_ids: list[int] = []
    pending_probs: list[np.ndarray] = []

    def flush() -> None:
        if not pending_ids:
            return
        with project.session() as session:
            store_predictions.save_predictions(session, model_id, list(pending_ids), np.concatenate(pending_probs))
        report.predicted += len(pending_ids)
        pending_ids.clear()
        pending_probs.clear()

    done = 0
    try:
        for ok, probs, bad in predict_paths(model, pre, todo_paths, device=dev, batch_size=batch_size,
                                            num_workers=num_workers, progress=progress):
            pending_ids.extend(todo_ids[j] for j in ok)
            if len(ok):
                pending_probs.append(probs)
            for j, err in bad:
                report.unreadable += 1
                report.errors.append((todo_ids[j], err))
            done += len(ok) + len(bad)
            if len(pending_ids) >= WRITE_EVERY:
                flush()
            progress.progress(done, len(todo_ids), f"{done}/{len(todo_ids)} images")
        report.cancelled = progress.cancelled and done < len(todo_ids)
    finally:
        flush()
        report.seconds = time.monotonic() - t0
    return report


def _images_to_predict(session, model_id: int) -> tuple[list[int], list[str], int]:
    from core.store import predictions as store_predictions
    from core.store.queries import ImageFilter, all_images

    images = all_images(session, ImageFilter(readable=True))
    done = set(store_predictions.predicted_image_ids(session, model_id))
    todo = [im for im in images if im.id not in done]
    return [im.id for im in todo], [im.abs_path for im in todo], len(images)

