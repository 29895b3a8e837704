"""Fine-tune (or train from scratch) with DDP: `torchrun --nproc_per_node=N -m training.finetune --config job.json`.

Also runs as a plain single process (`python -m training.finetune --config job.json`).

Files in `out_dir`:
  config.json        the config of the run
  metrics.jsonl      rank 0: step records every log_every steps, one epoch record per epoch
  resume.pt          full resume state after every epoch and on SIGTERM (weights_only-loadable)
  rng/rankN.pt       per-rank RNG streams belonging to resume.pt
  last.safetensors   Inspector checkpoint of the latest epoch; best.safetensors: best val balanced accuracy
  status.json        running / preempted / succeeded, for whoever watches the job
  result.json        written once training finished: best checkpoint and its metrics

Exit status: 0 finished, 75 stopped by SIGTERM with resume state saved (run the same command again
to continue), 2 bad configuration, anything else a crash.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, DistributedSampler, Subset

from core.atomic import write_text_atomic
from training import resume
from training.config import ConfigError, FinetuneConfig
from training.data import build_datasets, resolve_class_names
from training.dist import DistInfo, all_reduce_sum, any_rank, barrier, init_distributed, shutdown
from training.evaluate import evaluate
from training.metrics_log import METRICS_FILE, MetricsWriter
from training.model_setup import build_model, fingerprint, freeze_stem, param_groups
from training.preemption import StopRequest, iterate, worker_init
from training.samplers import DistributedClassBalancedSampler, SkipFirst
from training.schedule import build_scheduler

PREEMPTED_EXIT = 75  # EX_TEMPFAIL: "try again later", which is what a preempted job should do


def write_json_atomic(path: Path, obj: dict) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2) + "\n")


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def make_train_sampler(cfg: FinetuneConfig, dataset, info: DistInfo):
    if cfg.class_balanced:
        return DistributedClassBalancedSampler(dataset.targets, num_replicas=info.world_size, rank=info.rank, seed=cfg.seed)
    return DistributedSampler(dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=cfg.seed)


def train_one_epoch(*, model, net, loader, optimizer, scheduler, stop: StopRequest, info: DistInfo, cfg: FinetuneConfig,
                    epoch: int, first_step: int, steps_per_epoch: int, global_step: int, log: MetricsWriter | None,
                    use_cuda: bool) -> tuple[int, int, float, bool]:
    """Returns (steps done in this epoch, global step, mean train loss, stopped by SIGTERM)."""
    model.train()
    if cfg.freeze_stem:
        net.stem.eval()  # frozen BatchNorm statistics too, not only frozen weights
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if use_cuda else contextlib.nullcontext()
    step = first_step
    loss_sum = torch.zeros((), device=info.device)  # on the device: no host sync per step
    window_loss, window_steps, epoch_loss, epoch_steps = 0.0, 0, 0.0, 0
    window_images, window_start = 0, time.perf_counter()
    stopped = False
    for images, targets in iterate(loader):
        if step >= steps_per_epoch:
            break
        images = images.to(info.device, non_blocking=True)
        if use_cuda:
            images = images.contiguous(memory_format=torch.channels_last)
        targets = targets.to(info.device, non_blocking=True)
        with amp:
            logits = model(images)
        loss = F.cross_entropy(logits.float(), targets, label_smoothing=cfg.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        step += 1
        global_step += 1
        loss_sum += loss.detach()
        window_steps += 1
        window_images += images.shape[0] * info.world_size
        if step % cfg.log_every == 0 or step == steps_per_epoch:
            # Mean loss over ranks and steps of the window: one all-reduce per log line.
            window_loss = float(all_reduce_sum(loss_sum.clone())) / info.world_size
            epoch_loss += window_loss
            epoch_steps += window_steps
            if log is not None:
                elapsed = time.perf_counter() - window_start
                log.write("step", epoch=epoch, step=step, global_step=global_step,
                          loss=round(window_loss / window_steps, 5), lr=optimizer.param_groups[0]["lr"],
                          images_per_s=round(window_images / max(elapsed, 1e-9), 2))
            loss_sum.zero_()
            window_steps, window_images, window_start = 0, 0, time.perf_counter()
        # Every rank votes after every step, so all of them stop after the same step and save
        # consistent state.
        if any_rank(stop.requested, info):
            stopped = True
            break
    if window_steps:  # steps since the last log line (stopped early): count them in the epoch mean
        epoch_loss += float(all_reduce_sum(loss_sum.clone())) / info.world_size
        epoch_steps += window_steps
    return step, global_step, (epoch_loss / epoch_steps if epoch_steps else float("nan")), stopped


def export_checkpoint(path: Path, net, built, cfg: FinetuneConfig, class_names: list[str], *, epoch: int,
                      metrics: dict) -> Path:
    from core.model.checkpoint import CheckpointMeta, save_checkpoint

    meta = CheckpointMeta(
        arch=built.arch, class_names=list(class_names), in_chans=cfg.in_chans, input_size=cfg.input_size,
        mean=built.mean, std=built.std, parent=built.parent,
        provenance={"job_id": cfg.job_id, "snapshot_id": cfg.snapshot_id, "base": cfg.base, "epochs": epoch + 1,
                    "epochs_planned": cfg.epochs, "val": metrics},
    )
    return save_checkpoint(path, net, meta)


def run(cfg: FinetuneConfig) -> int:
    stop = StopRequest()
    info = init_distributed(cfg.device)
    try:
        return _run(cfg, info, stop)
    finally:
        shutdown()


def _run(cfg: FinetuneConfig, info: DistInfo, stop: StopRequest) -> int:
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    use_cuda = info.device.type == "cuda"
    seed_everything(cfg.seed + info.rank)
    class_names = resolve_class_names(cfg)
    built = build_model(cfg, class_names)
    net = built.model
    if cfg.freeze_stem:
        freeze_stem(net)
    train_ds, val_ds = build_datasets(cfg, class_names, built.mean, built.std)

    # Resume state is loaded into the bare module before DDP wraps it, so every rank starts equal.
    state_path = out / resume.STATE_FILE
    state = resume.safe_load(state_path) if state_path.exists() else None
    if state is not None:
        if state.get("fingerprint") != fingerprint(cfg, class_names):
            raise ConfigError(f"{out} holds the resume state of a different run (base, classes or input size differ)")
        net.load_state_dict(state["model"])
    net.to(info.device)
    if use_cuda:
        net.to(memory_format=torch.channels_last)
    model = net
    if info.enabled:
        model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[info.local_rank] if use_cuda else None)
    if cfg.compile:
        model = torch.compile(model)

    sampler = make_train_sampler(cfg, train_ds, info)
    per_rank = len(sampler)
    drop_last = per_rank >= cfg.batch_size  # equal batch shapes on every rank, unless the data is tiny
    steps_per_epoch = per_rank // cfg.batch_size if drop_last else math.ceil(per_rank / cfg.batch_size)
    if cfg.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
    total_steps = steps_per_epoch * cfg.epochs
    warmup_steps = round(cfg.warmup_epochs * steps_per_epoch)

    lr = cfg.scaled_lr(info.world_size)
    optimizer = torch.optim.AdamW(param_groups(net, cfg.weight_decay), lr=lr, betas=(0.9, 0.999), fused=use_cuda)
    scheduler = build_scheduler(optimizer, warmup_steps=warmup_steps, total_steps=total_steps)
    epoch, step_in_epoch, global_step = 0, 0, 0
    best = {"epoch": -1, "val_balanced_acc": -1.0}
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        epoch, step_in_epoch, global_step = int(state["epoch"]), int(state["step_in_epoch"]), int(state["global_step"])
        best = dict(state["best"])
        resume.restore_rng(out, info.rank, global_step)

    log = MetricsWriter(out / METRICS_FILE) if info.is_main else None
    if info.is_main:
        cfg.save(out / "config.json")
        write_json_atomic(out / "status.json", {"state": "running", "epoch": epoch, "step_in_epoch": step_in_epoch})
        log.write("start", resumed=state is not None, epoch=epoch, step_in_epoch=step_in_epoch, world_size=info.world_size,
                  device=info.device.type, lr=lr, steps_per_epoch=steps_per_epoch, train_images=len(train_ds),
                  val_images=len(val_ds) if val_ds else 0, head_replaced=built.head_replaced)

    val_loader = None
    if val_ds is not None:
        shard = Subset(val_ds, range(info.rank, len(val_ds), info.world_size))
        val_loader = DataLoader(shard, batch_size=cfg.batch_size * 2, num_workers=min(cfg.num_workers, 2),
                                worker_init_fn=worker_init, pin_memory=use_cuda)

    def save_state(next_epoch: int, next_step: int) -> None:
        # RNG files first: a resume.pt always finds the RNG streams of its own position.
        resume.save_rng(out, info.rank, global_step)
        barrier()
        if info.is_main:
            resume.atomic_torch_save({
                "version": resume.VERSION, "fingerprint": fingerprint(cfg, class_names),
                "epoch": next_epoch, "step_in_epoch": next_step, "global_step": global_step,
                "model": net.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "best": best, "world_size": info.world_size,
            }, state_path)
        barrier()

    def preempted(next_epoch: int, next_step: int) -> int:
        if info.is_main:
            write_json_atomic(out / "status.json", {"state": "preempted", "epoch": next_epoch, "step_in_epoch": next_step})
            log.write("preempted", epoch=next_epoch, step_in_epoch=next_step, global_step=global_step)
            log.close()
        return PREEMPTED_EXIT

    while epoch < cfg.epochs:
        t0 = time.perf_counter()
        sampler.set_epoch(epoch)
        loader = DataLoader(train_ds, batch_size=cfg.batch_size, sampler=SkipFirst(sampler, step_in_epoch * cfg.batch_size),
                            num_workers=cfg.num_workers, drop_last=drop_last, pin_memory=use_cuda,
                            worker_init_fn=worker_init, persistent_workers=False)
        step_in_epoch, global_step, train_loss, stopped = train_one_epoch(
            model=model, net=net, loader=loader, optimizer=optimizer, scheduler=scheduler, stop=stop, info=info, cfg=cfg,
            epoch=epoch, first_step=step_in_epoch, steps_per_epoch=steps_per_epoch, global_step=global_step, log=log,
            use_cuda=use_cuda)
        if stopped and step_in_epoch < steps_per_epoch:
            save_state(epoch, step_in_epoch)
            return preempted(epoch, step_in_epoch)
        metrics = {}
        if val_loader is not None:
            metrics = evaluate(net, val_loader, len(class_names), info.device, channels_last=use_cuda, autocast=use_cuda)
        improved = not metrics or metrics["val_balanced_acc"] > best["val_balanced_acc"]
        if improved:
            best = {"epoch": epoch, "val_balanced_acc": metrics.get("val_balanced_acc", float("nan")),
                    "val_acc": metrics.get("val_acc", float("nan"))}
        save_state(epoch + 1, 0)
        if info.is_main:
            last = export_checkpoint(out / "last.safetensors", net, built, cfg, class_names, epoch=epoch, metrics=metrics)
            if improved:
                export_checkpoint(out / "best.safetensors", net, built, cfg, class_names, epoch=epoch, metrics=metrics)
            alphas = [[round(float(a), 5) for a in layer.detach()] for layer in net.alphas()] if hasattr(net, "alphas") else []
            log.write("epoch", epoch=epoch, global_step=global_step, train_loss=round(train_loss, 5), **metrics,
                      alphas=alphas, epoch_time_s=round(time.perf_counter() - t0, 3), checkpoint=str(last))
        epoch, step_in_epoch = epoch + 1, 0
        if stopped or _stop_agreed(stop, info):
            return preempted(epoch, 0)

    if info.is_main:
        result = {
            "status": "succeeded", "job_id": cfg.job_id, "snapshot_id": cfg.snapshot_id, "epochs": cfg.epochs,
            "best_checkpoint": str(out / "best.safetensors"), "last_checkpoint": str(out / "last.safetensors"),
            "best_epoch": best["epoch"], "best_metrics": best, "class_names": class_names, "parent": built.parent,
        }
        write_json_atomic(out / "result.json", result)
        write_json_atomic(out / "status.json", {"state": "succeeded", "epoch": cfg.epochs, "step_in_epoch": 0})
        log.write("done", **{k: result[k] for k in ("best_checkpoint", "best_epoch", "best_metrics")})
        log.close()
    barrier()
    return 0


def _stop_agreed(stop: StopRequest, info: DistInfo) -> bool:
    return any_rank(stop.requested, info)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.finetune", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="job.json written by Inspector (see training/config.py)")
    args = parser.parse_args(argv)
    try:
        cfg = FinetuneConfig.load(args.config)
        return run(cfg)
    except ConfigError as e:
        print(f"training.finetune: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
