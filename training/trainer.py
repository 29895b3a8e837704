"""The one trainer: every model Inspector trains (demo, label scan, fine-tuning jobs, benchmarks,
pretraining) goes through `train()`; they differ only in their TrainConfig and where images come from.

One process or many (torchrun: DDP, NCCL on GPUs, gloo on CPU). Per optimiser step: a uint8 batch
moves to the device, is augmented there per image (`training.augment`, seeded by (seed, step, rank)),
normalised, and trained on (bf16 autocast and channels_last on CUDA). AdamW with no decay on 1-D
parameters (biases, norms, alphas), warm-up then cosine, gradient clipping, and an EMA of the
weights (warmed up, so a short run is not stuck with its random start) which is what gets
evaluated and exported.

With `run.out_dir` the run is a job: config.json, metrics.jsonl (rank 0), resume.pt (every epoch and
on SIGTERM), last/best.safetensors, status.json, result.json. Resuming is exact: the epoch order and
every augmentation are functions of (seed, epoch, step), so nothing random needs saving.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.atomic import write_text_atomic
from core.progress import Reporter, silent
from training import resume
from training.augment import augment_batch
from training.backends.base import PREEMPTED_EXIT, RESULT_FILE, STATUS_FILE  # noqa: F401 (PREEMPTED_EXIT re-exported)
from training.config import ConfigError, TrainConfig
from training.data import (
    IN_MEMORY_LIMIT_BYTES,
    ImageSource,
    MemorySource,
    Sample,
    StreamSource,
    config_samples,
    epoch_order,
    resolve_class_names,
    step_seed,
    use_class_balance,
)
from training.dist import DistInfo, all_reduce_sum, any_rank, barrier
from training.evaluate import evaluate
from training.metrics_log import METRICS_FILE, MetricsWriter
from training.model_setup import BuiltModel, build_model, fingerprint, param_groups
from training.schedule import build_scheduler



@dataclass
class TrainData:
    """What to train on when the caller has the images (demo, label scan, bench) instead of a manifest."""

    train: ImageSource
    val: ImageSource | None = None
    class_names: list[str] = field(default_factory=list)


class BatchObserver:
    """Sees every training batch's logits (the label scan's training dynamics) and every finished
    epoch's metrics with the training time so far (the learning benchmark's curves)."""

    def on_batch(self, indices: torch.Tensor, logits: torch.Tensor, done: float) -> None:
        pass

    def on_epoch(self, epoch: int, metrics: dict[str, Any], train_seconds: float) -> None:
        """`metrics` also has "train_cpu_seconds": this process's CPU time in training so far
        (evaluation excluded), which a busy machine distorts far less than wall time."""


@dataclass
class TrainResult:
    model: nn.Module  # the exported weights (EMA when enabled), eval mode, on the CPU
    built: BuiltModel
    class_names: list[str]
    epochs_done: int
    stopped: bool  # SIGTERM or cancel before the planned end; resume state saved when out_dir is set
    train_acc: float | None  # accuracy on the (augmented) training batches of the last epoch
    val: dict[str, float]  # last epoch's validation metrics, {} without a val split
    best: dict[str, Any]
    seconds: float
    images_per_s: float


def train(cfg: TrainConfig, *, data: TrainData | None = None, info: DistInfo | None = None,
          reporter: Reporter | None = None, stop: Callable[[], bool] | None = None,
          observer: BatchObserver | None = None, built: BuiltModel | None = None) -> TrainResult:
    """Run (or resume) one training. `stop` is polled between steps (SIGTERM in jobs). `built`: a
    network made by the caller instead of from `cfg.model` (the benchmark's torchvision peers)."""
    from training.dist import single_process

    reporter = reporter or silent()
    info = info or single_process(cfg.run.device)
    return _Run(cfg, data, info, reporter, stop or (lambda: False), observer, built).run()


class _Run:
    def __init__(self, cfg: TrainConfig, data: TrainData | None, info: DistInfo, reporter: Reporter,
                 stop: Callable[[], bool], observer: BatchObserver | None, built: BuiltModel | None):
        self.cfg, self.info, self.reporter, self.stop_requested, self.observer = cfg, info, reporter, stop, observer
        self.out = Path(cfg.run.out_dir) if cfg.run.out_dir else None
        self.use_cuda = info.device.type == "cuda"
        torch.manual_seed(cfg.run.seed)
        self.class_names = list(data.class_names) if data and data.class_names else resolve_class_names(cfg.data)
        self.train_src, self.val_src = self._sources(data)
        self.built = built or build_model(cfg, self.class_names, stats=self.train_src.pixels_for_stats())
        self.net = self.built.model
        if cfg.model.freeze_stem:
            for p in self.net.stem_modules().parameters():
                p.requires_grad_(False)

    # --- set-up ----------------------------------------------------------------------------------

    def _sources(self, data: TrainData | None) -> tuple[ImageSource, ImageSource | None]:
        if data is not None:
            return data.train, data.val
        d = self.cfg.data
        if d.source == "formula":
            return self._formula_sources()
        train, val = config_samples(d, self.class_names)
        in_memory = d.in_memory
        if in_memory is None:
            in_memory = d.crop == "none" and (len(train) + len(val)) * d.in_chans * d.input_size**2 <= IN_MEMORY_LIMIT_BYTES
        if in_memory and d.crop != "none":
            raise ConfigError("data.in_memory keeps one decoded copy per image; random crops need streaming")

        def source(samples: list[Sample], training: bool) -> ImageSource:
            if in_memory:
                return MemorySource.decode(samples, d.in_chans, d.input_size,
                                           reporter=self.reporter.sub(0.0, 0.02, "") if training else None)
            return StreamSource(samples, d.in_chans, d.input_size, crop=d.crop if training else "none",
                                seed=self.cfg.run.seed, num_workers=d.num_workers, pin_memory=self.use_cuda)

        return source(train, True), (source(val, False) if val else None)

    def _formula_sources(self) -> tuple[ImageSource, ImageSource]:
        from training.formula_images import FormulaImages, categories

        d = self.cfg.data
        categories(d.formula_categories, d.formula_seed)  # found once here; forked workers inherit them
        held = FormulaImages(d.formula_categories, 2 * d.formula_categories, d.input_size, d.in_chans, d.formula_seed,
                             held_out=True)
        gen = FormulaImages(d.formula_categories, d.formula_images_per_epoch, d.input_size, d.in_chans, d.formula_seed)
        make = lambda ds: StreamSource([], d.in_chans, d.input_size, num_workers=d.num_workers,  # noqa: E731
                                       pin_memory=self.use_cuda, dataset=ds)
        return make(gen), make(held)

    def run(self) -> TrainResult:
        cfg, info, net = self.cfg, self.info, self.net
        t_start = time.perf_counter()
        state = self._load_resume_state()
        net.to(info.device)
        if self.use_cuda:
            net.to(memory_format=torch.channels_last)
        ema = _Ema(net) if cfg.optim.ema else None
        model: nn.Module = net
        if info.enabled:
            model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[info.local_rank] if self.use_cuda else None)
        if cfg.run.compile:
            model = torch.compile(model)

        balanced = use_class_balance(cfg.data, self.train_src.targets)
        per_rank = math.ceil(len(self.train_src) / info.world_size)
        bs = cfg.schedule.batch_size
        drop_last = per_rank >= bs  # equal batch shapes on every rank, unless the data is tiny
        steps_per_epoch = per_rank // bs if drop_last else math.ceil(per_rank / bs)
        if cfg.schedule.max_steps_per_epoch:
            steps_per_epoch = min(steps_per_epoch, cfg.schedule.max_steps_per_epoch)
        total_steps = steps_per_epoch * cfg.schedule.epochs
        lr = cfg.optim.scaled_lr(bs * info.world_size)
        optimizer = torch.optim.AdamW(param_groups(net, cfg.optim.weight_decay), lr=lr, betas=(0.9, 0.999),
                                      fused=self.use_cuda)
        scheduler = build_scheduler(optimizer, warmup_steps=round(cfg.schedule.warmup_epochs * steps_per_epoch),
                                    total_steps=total_steps, min_factor=cfg.schedule.min_lr_factor)
        if ema is not None:
            ema.set_time_constant(cfg.optim.ema_fraction * total_steps)
        epoch, step_in_epoch, global_step = 0, 0, 0
        best: dict[str, Any] = {"epoch": -1, "val_balanced_acc": -1.0}
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            if ema is not None and "ema" in state:
                ema.load_state_dict(state["ema"])
            epoch, step_in_epoch, global_step = int(state["epoch"]), int(state["step_in_epoch"]), int(state["global_step"])
            best = dict(state["best"])

        log = MetricsWriter(self.out / METRICS_FILE) if self.out and info.is_main else None
        if self.out and info.is_main:
            cfg.save(self.out / "config.json")
            self._status("running", epoch, step_in_epoch)
            log.write("start", resumed=state is not None, epoch=epoch, step_in_epoch=step_in_epoch,
                      world_size=info.world_size, device=info.device.type, lr=lr, steps_per_epoch=steps_per_epoch,
                      train_images=len(self.train_src), val_images=len(self.val_src) if self.val_src else 0,
                      head_replaced=self.built.head_replaced, class_balanced=balanced, pool=self.built.pool)

        mean = torch.tensor(self.built.mean, device=info.device).view(1, -1, 1, 1)
        std = torch.tensor(self.built.std, device=info.device).view(1, -1, 1, 1)
        amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if self.use_cuda else contextlib.nullcontext
        stopped, train_acc, val_metrics = False, None, {}
        images_seen, train_time, train_cpu = 0, 0.0, 0.0
        while epoch < cfg.schedule.epochs:
            t0, cpu0 = time.perf_counter(), time.process_time()
            if isinstance(self.train_src, StreamSource):
                self.train_src.set_epoch(epoch)  # random crops, generated images: new per epoch
            order = epoch_order(self.train_src.targets, epoch=epoch, seed=cfg.run.seed, balanced=balanced,
                                rank=info.rank, world_size=info.world_size)[step_in_epoch * bs:]
            model.train()
            if cfg.model.freeze_stem:
                self.net.stem_modules().eval()  # frozen BatchNorm statistics too, not only frozen weights
            sums = torch.zeros(3, device=info.device)  # loss, correct, seen: on the device, no sync per step
            window = torch.zeros(1, device=info.device)
            window_steps, window_images, window_start = 0, 0, time.perf_counter()
            # closing(): leaving the loop early (SIGTERM, cancel) shuts the DataLoader's workers down
            # now. They ignore SIGTERM by design (a cancel must not kill them mid-batch), so a worker
            # left for interpreter exit would be "terminated" in vain and joined forever.
            with contextlib.closing(self.train_src.batches(order, bs, drop_last=drop_last)) as batches:
                for xb, yb, idx in batches:
                    if step_in_epoch >= steps_per_epoch:
                        break
                    xb = xb.to(info.device, non_blocking=True)
                    yb = yb.to(info.device, non_blocking=True)
                    gen = torch.Generator().manual_seed(step_seed(cfg.run.seed, global_step, info.rank))
                    x = augment_batch(xb.float().div_(255.0), cfg.data.augment, gen)
                    x = (x - mean) / std
                    if self.use_cuda:
                        x = x.contiguous(memory_format=torch.channels_last)
                    with amp():
                        logits = model(x)
                    loss = F.cross_entropy(logits.float(), yb, label_smoothing=cfg.optim.label_smoothing)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if cfg.optim.grad_clip is not None:
                        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.optim.grad_clip)
                    optimizer.step()
                    scheduler.step()
                    if ema is not None:
                        ema.update()
                    step_in_epoch += 1
                    global_step += 1
                    detached = logits.detach()
                    # In place on the device, python scalars as kernel arguments: no host-device copy per step.
                    sums[0] += loss.detach() * len(yb)
                    sums[1] += (detached.argmax(1) == yb).sum()
                    sums[2] += len(yb)
                    window += loss.detach()
                    window_steps += 1
                    window_images += len(yb) * info.world_size
                    if self.observer is not None:
                        self.observer.on_batch(idx, detached.float(), global_step / max(total_steps, 1))
                    if step_in_epoch % cfg.run.log_every == 0 or step_in_epoch == steps_per_epoch:
                        w = float(all_reduce_sum(window.clone())) / info.world_size  # every rank joins
                        if log is not None:
                            elapsed = time.perf_counter() - window_start
                            log.write("step", epoch=epoch, step=step_in_epoch, global_step=global_step,
                                      loss=round(w / window_steps, 5), lr=optimizer.param_groups[0]["lr"],
                                      images_per_s=round(window_images / max(elapsed, 1e-9), 2))
                        window.zero_()
                        window_steps, window_images, window_start = 0, 0, time.perf_counter()
                    # Every rank votes after every step, so all of them stop after the same step and
                    # save consistent state.
                    if any_rank(self.stop_requested() or self.reporter.cancelled, info):
                        stopped = True
                        break
                    self.reporter.fraction(global_step / max(total_steps, 1),
                                           f"epoch {epoch + 1}/{cfg.schedule.epochs}")
            totals = all_reduce_sum(sums.clone())
            epoch_seconds = time.perf_counter() - t0
            images_seen += int(totals[2])
            train_time += epoch_seconds
            train_cpu += time.process_time() - cpu0
            if stopped and step_in_epoch < steps_per_epoch:
                self._save_state(net, optimizer, scheduler, ema, best, epoch, step_in_epoch, global_step)
                self._preempted(log, epoch, step_in_epoch, global_step)
                break
            train_loss = float(totals[0] / totals[2]) if totals[2] else float("nan")
            train_acc = float(totals[1] / totals[2]) if totals[2] else None
            exported = ema.module if ema is not None else net
            val_metrics = self._evaluate(exported) if self.val_src is not None else {}
            improved = not val_metrics or val_metrics["val_balanced_acc"] > best["val_balanced_acc"]
            if improved:
                best = {"epoch": epoch, "val_balanced_acc": val_metrics.get("val_balanced_acc", float("nan")),
                        "val_acc": val_metrics.get("val_acc", float("nan"))}
            if self.observer is not None:
                self.observer.on_epoch(epoch, {"train_acc": train_acc, "train_loss": train_loss,
                                               "train_cpu_seconds": train_cpu, **val_metrics}, train_time)
            epoch, step_in_epoch = epoch + 1, 0
            self._save_state(net, optimizer, scheduler, ema, best, epoch, 0, global_step)
            if self.out and info.is_main:
                metrics = {"train_acc": round(train_acc, 5) if train_acc is not None else None, **val_metrics}
                last = self._export(self.out / "last.safetensors", exported, epoch, metrics)
                if improved:
                    self._export(self.out / "best.safetensors", exported, epoch, metrics)
                alphas = [[round(float(a), 5) for a in layer.detach()] for layer in exported.alphas()] \
                    if hasattr(exported, "alphas") else []
                log.write("epoch", epoch=epoch - 1, global_step=global_step, train_loss=round(train_loss, 5),
                          train_acc=round(train_acc, 5) if train_acc is not None else None, **val_metrics,
                          alphas=alphas, epoch_time_s=round(epoch_seconds, 3), checkpoint=str(last))
            if stopped or any_rank(self.stop_requested() or self.reporter.cancelled, info):
                stopped = epoch < cfg.schedule.epochs
                if stopped:
                    self._preempted(log, epoch, 0, global_step)
                break

        exported = (ema.module if ema is not None else net)
        if not stopped and self.out and info.is_main:
            result = {
                "status": "succeeded", "job_id": cfg.run.job_id, "snapshot_id": cfg.run.snapshot_id,
                "epochs": cfg.schedule.epochs, "best_checkpoint": str(self.out / "best.safetensors"),
                "last_checkpoint": str(self.out / "last.safetensors"), "best_epoch": best["epoch"],
                "best_metrics": best, "train_acc": train_acc, "class_names": self.class_names,
                "parent": self.built.parent,
            }
            _write_json(self.out / RESULT_FILE, result)
            self._status("succeeded", cfg.schedule.epochs, 0)
            log.write("done", **{k: result[k] for k in ("best_checkpoint", "best_epoch", "best_metrics", "train_acc")})
        if log is not None:
            log.close()
        barrier()
        final = _cpu_copy(exported)
        return TrainResult(model=final.eval(), built=self.built, class_names=self.class_names, epochs_done=epoch,
                           stopped=stopped, train_acc=train_acc, val=val_metrics, best=best,
                           seconds=time.perf_counter() - t_start,
                           images_per_s=images_seen / train_time if train_time else 0.0)

    # --- pieces ----------------------------------------------------------------------------------

    def _load_resume_state(self) -> dict | None:
        if self.out is None:
            return None
        path = self.out / resume.STATE_FILE
        if not path.exists():
            return None
        state = resume.safe_load(path)
        if state.get("fingerprint") != fingerprint(self.cfg, self.class_names):
            raise ConfigError(f"{self.out} holds the resume state of a different run (base, classes or input size differ)")
        self.net.load_state_dict(state["model"])
        return state

    def _save_state(self, net, optimizer, scheduler, ema, best, epoch: int, step_in_epoch: int, global_step: int) -> None:
        if self.out is None:
            return
        barrier()
        if self.info.is_main:
            state = {"version": resume.VERSION, "fingerprint": fingerprint(self.cfg, self.class_names),
                     "epoch": epoch, "step_in_epoch": step_in_epoch, "global_step": global_step,
                     "model": net.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "best": best, "world_size": self.info.world_size}
            if ema is not None:
                state["ema"] = ema.state_dict()
            resume.atomic_torch_save(state, self.out / resume.STATE_FILE)
        barrier()

    def _preempted(self, log, epoch: int, step_in_epoch: int, global_step: int) -> None:
        if self.out and self.info.is_main:
            self._status("preempted", epoch, step_in_epoch)
            log.write("preempted", epoch=epoch, step_in_epoch=step_in_epoch, global_step=global_step)

    def _status(self, state: str, epoch: int, step_in_epoch: int) -> None:
        _write_json(self.out / STATUS_FILE, {"state": state, "epoch": epoch, "step_in_epoch": step_in_epoch})

    def _evaluate(self, model: nn.Module) -> dict[str, float]:
        return evaluate(model, self.val_src, len(self.class_names), self.info, mean=self.built.mean,
                        std=self.built.std, batch_size=self.cfg.schedule.batch_size * 2)

    def _export(self, path: Path, net: nn.Module, epochs: int, metrics: dict) -> Path:
        return save_trained(path, net, self.built, self.cfg, self.class_names,
                            provenance={"epochs": epochs, "val": {k: v for k, v in metrics.items() if k != "train_acc"},
                                        "train_acc": metrics.get("train_acc")})


def save_trained(path: str | Path, net: nn.Module, built: BuiltModel, cfg: TrainConfig, class_names: Sequence[str],
                 *, provenance: dict[str, Any]) -> Path:
    """An Inspector checkpoint of a trained network, with where it came from."""
    from core.model.checkpoint import CheckpointMeta, save_checkpoint

    meta = CheckpointMeta(
        arch=built.arch, class_names=list(class_names), in_chans=cfg.data.in_chans, input_size=cfg.data.input_size,
        mean=built.mean, std=built.std, parent=built.parent,
        provenance={"trainer": cfg.run.trainer, "job_id": cfg.run.job_id, "snapshot_id": cfg.run.snapshot_id,
                    "base": cfg.model.base, "epochs_planned": cfg.schedule.epochs, "seed": cfg.run.seed,
                    **built.provenance, **provenance},
    )
    return save_checkpoint(path, net, meta)


class _Ema:
    """Exponential moving average of parameters and buffers, with a warm-up of its decay
    (decay_t = min(decay, (1 + t) / (10 + t))) so that early, random weights fade out quickly.

    The pairs of tensors are collected once: the optimiser and BatchNorm update the live tensors in
    place, so one fused lerp per step covers the whole model."""

    def __init__(self, net: nn.Module):
        import copy

        self.module = copy.deepcopy(net).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        mine, live = self.module.state_dict(), net.state_dict()
        self._float = [(mine[k], v) for k, v in live.items() if v.dtype.is_floating_point]
        self._other = [(mine[k], v) for k, v in live.items() if not v.dtype.is_floating_point]
        self.decay = 0.999
        self.updates = 0

    def set_time_constant(self, steps: float) -> None:
        self.decay = 1.0 - 1.0 / max(steps, 1.0)

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        if self._float:
            torch._foreach_lerp_([a for a, _ in self._float], [b for _, b in self._float], 1.0 - d)
        for a, b in self._other:
            a.copy_(b)

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])


def _cpu_copy(net: nn.Module) -> nn.Module:
    return net.to("cpu").to(memory_format=torch.contiguous_format)


def _write_json(path: Path, obj: dict) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2) + "\n")
