"""A small single-process trainer for the demo model: minutes on two CPU cores.

Every image is decoded once and kept in memory as one uint8 tensor at the model's input size;
augmentation (flips, quarter turns, small shifts) runs on whole batches, so an epoch costs little
more than the forward and backward passes. The learning rate follows a warm-up then a cosine
decay over whichever runs out first, the epochs or the time budget.

Pooling curriculum. The AAN classifier mean-pools its last tokens; a defect covers a few of 16-49
tokens, so from scratch on a few hundred images the mean-pooled head first learns nothing but the
class prior (measured: 20+ epochs at chance, while the same stem with max pooling reaches 60%+).
So training starts with log-sum-exp pooling of the last features, which is close to max pooling
(the defect token dominates and its features learn to detect it), and its temperature is annealed
to plain mean pooling, the model's own forward, over the first `pool_anneal` of training; the rest
trains the model exactly as it will run. An auxiliary linear head on the max-pooled first attention
stage (thrown away afterwards) gives the early layers a direct signal too.

`cross_validated_probs` trains k models on k-1 folds each and predicts the held-out fold: the
out-of-sample probabilities that confident learning needs to spot wrong labels (a model scores its
own training labels too confidently, wrong ones included).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.inference.preprocess import Preprocess
from core.model import create_model
from core.model.checkpoint import CheckpointMeta, save_checkpoint

Progress = Callable[[str, float], None]  # (message, fraction done 0..1)


@dataclass(frozen=True, kw_only=True, slots=True)
class DemoTrainConfig:
    arch: str = "aan_s"
    epochs: int = 30
    input_size: int = 128
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.05
    label_smoothing: float = 0.05
    seed: int = 0
    seconds_budget: float | None = None
    pool_sharpness: float = 10.0  # log-sum-exp pooling temperature at the start (0 = mean pooling throughout)
    pool_anneal: float = 0.7  # fraction of training after which pooling is the model's own mean
    aux_weight: float = 1.0  # weight of the auxiliary max-pooled stage-0 head

    def __post_init__(self) -> None:
        if self.input_size < 64 or self.input_size % 32:
            raise ValueError("input_size must be a multiple of 32, at least 64")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be positive")


@dataclass(frozen=True, slots=True)
class TrainItem:
    path: Path
    label: str
    split: str = "train"  # "train", "val" or "test"


@dataclass
class ImageSet:
    """Preloaded images: x (N, C, s, s) uint8, y (N,) class indices, split per image."""

    x: torch.Tensor
    y: torch.Tensor
    splits: list[str]
    class_names: list[str]
    paths: list[Path] = field(default_factory=list)

    def subset(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.tensor([i for i, s in enumerate(self.splits) if s == split], dtype=torch.long)
        return self.x[idx], self.y[idx]


def load_image_set(items: Sequence[TrainItem], input_size: int, in_chans: int = 1,
                   class_names: list[str] | None = None) -> ImageSet:
    from core.data.decode import ImageDecodeError, load_image

    names = class_names or sorted({it.label for it in items})
    index = {c: i for i, c in enumerate(names)}
    pre = Preprocess(input_size, in_chans, (0.0,) * in_chans, (1.0,) * in_chans)
    xs, ys, splits, paths = [], [], [], []
    for it in items:
        try:
            xs.append(pre.to_uint8(load_image(it.path)))
        except ImageDecodeError:
            continue  # an unreadable file is the scanner's to report; training just goes without it
        ys.append(index[it.label])
        splits.append(it.split)
        paths.append(Path(it.path))
    if not xs:
        raise ValueError("no readable labelled images to train on")
    return ImageSet(torch.stack(xs), torch.tensor(ys), splits, names, paths)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Batch-wise flips, quarter turns and up to 1/16 shift (defects can be anywhere, any way up)."""
    if torch.rand(1, generator=gen).item() < 0.5:
        x = x.flip(-1)
    if torch.rand(1, generator=gen).item() < 0.5:
        x = x.flip(-2)
    x = torch.rot90(x, int(torch.randint(0, 4, (1,), generator=gen)), dims=(-2, -1))
    pad = x.shape[-1] // 16
    if pad:
        s = x.shape[-1]
        padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
        dy, dx = torch.randint(0, 2 * pad + 1, (2,), generator=gen).tolist()
        x = padded[..., dy : dy + s, dx : dx + s]
    return x.contiguous()


def pixel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images, in 0..1 units."""
    f = x.float().div_(255.0)
    dims = (0, 2, 3)
    std = f.std(dim=dims).clamp_min(1e-3)
    return tuple(round(float(v), 5) for v in f.mean(dim=dims)), tuple(round(float(v), 5) for v in std)


def fit(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    cfg: DemoTrainConfig,
    pre: Preprocess,
    *,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    trace: "TrainingTrace | None" = None,
) -> nn.Module:
    """Train a fresh model on preloaded uint8 images; returns it in eval mode.

    With `trace`, the softmax of every training example's own forward pass is accumulated once
    `trace.start` of the training is done (see `TrainingTrace`)."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = create_model(cfg.arch, num_classes, in_chans=x.shape[1])
    stage0: dict[str, torch.Tensor] = {}
    hook = model.stages[0].register_forward_hook(lambda _m, _a, out: stage0.__setitem__("out", out))
    aux = nn.Linear(model.stages[0].blocks[0].norm1.normalized_shape[0], num_classes)
    opt = torch.optim.AdamW([*model.parameters(), *aux.parameters()], lr=cfg.lr, weight_decay=cfg.weight_decay)
    try:
        return _train(model, aux, stage0, opt, x, y, num_classes, cfg, pre, gen, progress, cancel, trace)
    finally:
        hook.remove()


def _train(model, aux, stage0, opt, x, y, num_classes, cfg, pre, gen, progress, cancel, trace) -> nn.Module:
    # Inverse-frequency class weights: the demo data has more good parts than any defect type.
    counts = torch.bincount(y, minlength=num_classes).float()
    weight = (counts.sum() / counts.clamp_min(1) / num_classes).clamp(max=10.0)
    steps_per_epoch = max(1, math.ceil(len(x) / cfg.batch_size))
    total = cfg.epochs * steps_per_epoch
    start = time.monotonic()
    step = 0
    model.train()
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            done = _done_fraction(step, total, start, cfg.seconds_budget)
            if done >= 1.0 or (cancel and cancel()):
                return model.eval()
            for g in opt.param_groups:
                g["lr"] = cfg.lr * _schedule(done, cfg.warmup_fraction)
            xb = pre.normalise(augment(x[idx], gen))
            feats = model.forward_features(xb)
            r = cfg.pool_sharpness * max(0.0, 1.0 - done / cfg.pool_anneal) if cfg.pool_anneal > 0 else 0.0
            logits = model.head(model.norm(lse_pool(feats, r))) if r > 0 else model.forward_head(feats)
            loss = F.cross_entropy(logits, y[idx], weight=weight, label_smoothing=cfg.label_smoothing)
            if trace is not None and trace.start <= done < trace.stop:
                trace.add(idx, logits.detach().float().softmax(-1))
            if cfg.aux_weight:
                aux_logits = aux(stage0["out"].amax(dim=(2, 3)))
                loss = loss + cfg.aux_weight * F.cross_entropy(aux_logits, y[idx], weight=weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        if progress:
            progress(f"epoch {epoch + 1}/{cfg.epochs}  loss {loss.item():.3f}", _done_fraction(step, total, start, cfg.seconds_budget))
    return model.eval()


class TrainingTrace:
    """Each example's predicted probabilities averaged over the training steps that saw it, from
    fraction `start` of the training on (a training-dynamics estimate in the spirit of "area under
    the margin", Pleiss et al. 2020). An example with a wrong label is fitted late, if at all: over
    the trajectory its given label keeps a low probability, even when the final model memorised it."""

    def __init__(self, n: int, num_classes: int, start: float = 0.3, stop: float = 1.0):
        self.start = start
        self.stop = stop
        self.sums = torch.zeros(n, num_classes)
        self.counts = torch.zeros(n)

    def add(self, idx: torch.Tensor, probs: torch.Tensor) -> None:
        self.sums.index_add_(0, idx, probs)
        self.counts.index_add_(0, idx, torch.ones(len(idx)))

    def probs(self) -> np.ndarray:
        seen = self.counts > 0
        out = torch.full_like(self.sums, 1.0 / self.sums.shape[1])
        out[seen] = self.sums[seen] / self.counts[seen, None]
        return out.numpy()


def lse_pool(feats: torch.Tensor, r: float) -> torch.Tensor:
    """(B, C, h, w) -> (B, C): (1/r) log mean exp(r f); max pooling as r grows, mean as r -> 0."""
    f = feats.flatten(2)
    top = f.amax(dim=2, keepdim=True)
    return (top + torch.log(torch.exp(r * (f - top)).mean(dim=2, keepdim=True)) / r).squeeze(2)


@torch.inference_mode()
def predict_probs(model: nn.Module, x: torch.Tensor, pre: Preprocess, batch_size: int = 128) -> np.ndarray:
    model.eval()
    out = [model(pre.normalise(x[i : i + batch_size])).float().softmax(-1) for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


def training_dynamics_probs(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    cfg: DemoTrainConfig,
    pre: Preprocess,
    *,
    start: float = 0.3,
    stop: float = 1.0,
    progress: Progress | None = None,
) -> tuple[nn.Module, np.ndarray]:
    """One model on all the data; returns it and the trajectory-averaged probabilities (N, K).

    Cheaper than k-fold (one training, on all the data, instead of k on less) and, on a small
    dataset, a stronger model; the price is that the probabilities are not out-of-sample.
    """
    trace = TrainingTrace(len(y), num_classes, start, stop)
    model = fit(x, y, num_classes, cfg, pre, progress=progress, trace=trace)
    return model, trace.probs()


def cross_validated_probs(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    cfg: DemoTrainConfig,
    pre: Preprocess,
    *,
    folds: int = 3,
    progress: Progress | None = None,
) -> np.ndarray:
    """Out-of-fold probabilities (N, K): each image is predicted by a model that never saw it.

    Folds are stratified by the given label; a time budget in cfg is split evenly between folds.
    """
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    rng = np.random.default_rng(cfg.seed)
    fold_of = np.zeros(len(y), dtype=np.int64)
    for c in range(num_classes):
        members = rng.permutation(np.flatnonzero(y.numpy() == c))
        fold_of[members] = np.arange(len(members)) % folds
    budget = None if cfg.seconds_budget is None else cfg.seconds_budget / folds
    probs = np.zeros((len(y), num_classes), dtype=np.float32)
    for k in range(folds):
        train = torch.from_numpy(np.flatnonzero(fold_of != k))
        held = torch.from_numpy(np.flatnonzero(fold_of == k))
        sub = replace(cfg, seconds_budget=budget, seed=cfg.seed + k)
        fold_progress = None
        if progress:
            fold_progress = lambda msg, f, k=k: progress(f"fold {k + 1}/{folds} {msg}", (k + f) / folds)  # noqa: E731
        model = fit(x[train], y[train], num_classes, sub, pre, progress=fold_progress)
        probs[held.numpy()] = predict_probs(model, x[held], pre)
    return probs


def train_demo_model(
    project_or_image_records,
    out_path: str | os.PathLike,
    *,
    epochs: int = 30,
    input_size: int = 128,
    seconds_budget: float | None = None,
    progress: Progress | None = None,
    arch: str = "aan_s",
    seed: int = 0,
) -> Path:
    """Train on the "train" split (plus "val"), report accuracy on "test", save a checkpoint.

    project_or_image_records: a `core.store` Project (its current labels and splits), or an
    iterable of TrainItem / (path, label, split) tuples. Images are converted to grayscale.
    """
    t0 = time.monotonic()
    items = _items(project_or_image_records)
    cfg = DemoTrainConfig(arch=arch, epochs=epochs, input_size=input_size, seconds_budget=seconds_budget, seed=seed)
    data = load_image_set(items, input_size, in_chans=1)
    fit_split = [s != "test" for s in data.splits]
    idx = torch.tensor([i for i, f in enumerate(fit_split) if f], dtype=torch.long)
    if len(idx) < 2:
        raise ValueError("need at least two labelled training images")
    mean, std = pixel_stats(data.x[idx])
    pre = Preprocess(input_size, 1, mean, std)
    model = fit(data.x[idx], data.y[idx], len(data.class_names), cfg, pre, progress=progress)
    x_test, y_test = data.subset("test")
    accuracy = None
    if len(x_test):
        accuracy = float((predict_probs(model, x_test, pre).argmax(1) == y_test.numpy()).mean())
    meta = CheckpointMeta(
        arch=arch, class_names=data.class_names, in_chans=1, input_size=input_size, mean=mean, std=std,
        provenance={
            "trainer": "training.demo_train", "epochs": epochs, "train_images": int(len(idx)),
            "test_images": int(len(x_test)), "test_accuracy": accuracy,
            "seconds": round(time.monotonic() - t0, 1), "seed": seed,
        },
    )
    return save_checkpoint(out_path, model, meta)


def _items(source) -> list[TrainItem]:
    if hasattr(source, "session"):
        return _project_items(source)
    out = []
    for it in source:
        if isinstance(it, TrainItem):
            out.append(it)
        else:
            path, label, *rest = it
            out.append(TrainItem(Path(path), str(label), rest[0] if rest else "train"))
    return [it for it in out if it.label is not None]


def _project_items(project) -> list[TrainItem]:
    from core.store.snapshots import take_snapshot

    with project.session() as session:
        snap = take_snapshot(session)
    return [TrainItem(Path(r.path), r.label, r.split) for r in snap.rows if r.label is not None]


def _done_fraction(step: int, total: int, start: float, budget: float | None) -> float:
    frac = step / max(total, 1)
    if budget:
        frac = max(frac, (time.monotonic() - start) / budget)
    return min(frac, 1.0)


def _schedule(done: float, warmup: float) -> float:
    if done < warmup:
        return (done + 1e-3) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (done - warmup) / max(1.0 - warmup, 1e-6)))

