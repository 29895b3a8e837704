"""Formula-driven pretraining of an Inspector model: the starting point every fine-tune uses.

Pretraining is a training like any other: the one trainer (training.trainer) with a data section
that generates its images on the fly (`data.source = "formula"`, training/formula_images.py:
1000 IFS categories drawn as local anomalies on procedural surfaces), run by the same torchrun
entry point and job backends as fine-tuning (`inspector pretrain`, local or SLURM), resumable the
same way. `export_start` turns its best checkpoint into the shipped starting point
(assets/aan_s_start.safetensors, scripts/make_start_checkpoint.py): half precision, with how it was
made in its provenance.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from training.config import DataConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig, TrainConfig

START_CHECKPOINT = Path(__file__).resolve().parents[1] / "assets" / "aan_s_start.safetensors"
CONFIG_FILE = "job.json"


def pretrain_config(out_dir: str | os.PathLike, *, arch: str = "aan_s", pool: str | None = "attn", categories: int = 1000,
                    images_per_epoch: int = 50_000, epochs: int = 20, input_size: int = 96, in_chans: int = 1,
                    batch_size: int = 64, lr: float | None = None, device: str = "auto", seed: int = 0,
                    data_seed: int = 0, num_workers: int = 1, compile: bool = False,
                    max_steps_per_epoch: int | None = None) -> TrainConfig:
    """The pretraining recipe: many generated images, every one seen once (no epoch repeats an
    image), so regularisation is the data itself: light augmentation, little label smoothing."""
    return TrainConfig(
        data=DataConfig(source="formula", formula_categories=categories, formula_images_per_epoch=images_per_epoch,
                        formula_seed=data_seed, input_size=input_size, in_chans=in_chans, num_workers=num_workers,
                        augment={"affine_p": 0.0, "blur_p": 0.0, "noise_p": 0.0}),
        model=ModelConfig(base=arch, pool=pool),
        optim=OptimConfig(**({"lr": lr} if lr else {}), label_smoothing=0.05),
        schedule=ScheduleConfig(epochs=epochs, batch_size=batch_size, warmup_epochs=min(1.0, epochs / 10),
                                max_steps_per_epoch=max_steps_per_epoch),
        run=RunConfig(out_dir=str(Path(out_dir) / "out"), seed=seed, device=device, compile=compile,
                      log_every=50, trainer="training.pretrain"),
    )


def write_job(job_dir: str | os.PathLike, cfg: TrainConfig) -> Path:
    """The job folder: job.json (resubmitting the same folder resumes from its out/resume.pt)."""
    job_dir = Path(job_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    path = job_dir / CONFIG_FILE
    if path.exists():
        old = TrainConfig.load(path)
        if old.model != cfg.model or old.data != cfg.data:
            from training.config import ConfigError

            raise ConfigError(f"{job_dir} holds another pretraining (model or data differ); choose another --out")
    cfg.save(path)
    return path


def export_start(best: str | os.PathLike, out: str | os.PathLike, *, provenance: dict[str, Any]) -> Path:
    """A pretraining checkpoint as the shipped starting point: float16 weights, provenance kept."""
    import torch

    from core.model.checkpoint import load_checkpoint, save_checkpoint

    model, meta = load_checkpoint(best)
    meta.provenance = {**meta.provenance, **provenance, "role": "starting point (formula-driven pretraining)"}
    meta.parent = None
    return save_checkpoint(out, model, meta, dtype=torch.float16)


def resolve_base(base: str, *, from_scratch: bool = False) -> str:
    """What `--base ARCH` trains from: the shipped starting point of that architecture when there is
    one (and `from_scratch` is not asked for), else the architecture itself (random weights). A
    checkpoint path stays as it is."""
    from core.model import model_names

    if base not in model_names() or from_scratch:
        return base
    start = start_checkpoint(base)
    return str(start) if start is not None else base


def start_checkpoint(arch: str) -> Path | None:
    """The shipped starting point for `arch`, if there is one."""
    if arch != "aan_s" or not START_CHECKPOINT.exists():
        return None
    return START_CHECKPOINT


def read_result(job_dir: str | os.PathLike) -> dict[str, Any] | None:
    from training.backends.base import OUT_DIR, RESULT_FILE

    path = Path(job_dir) / OUT_DIR / RESULT_FILE
    return json.loads(path.read_text()) if path.exists() else None
