"""TrainConfig: every setting of one training run, one small dataclass per concern, one JSON file.

    data      what to train on and how images are loaded and augmented
    model     the network: an architecture name (from scratch) or a base checkpoint, its pooling
    optim     AdamW, the learning-rate rule, regularisation, EMA of weights
    schedule  epochs, warm-up, caps
    run       where files go, device, seed, provenance

The demo model, the label scan, fine-tuning jobs and the benchmarks all train through
`training.trainer` with this config; they differ only in values. The same file is written next to
every checkpoint (`config.json`), so a run can be restarted, resumed and audited from its folder.
Validation happens here, before any process group or GPU is touched: a bad value fails in one line
instead of in eight ranks at once. Job files written before the sections existed (one flat object)
still load.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from core.atomic import write_text_atomic
from core.errors import InspectorError
from training.augment import AugmentConfig
from training.defaults import FROM_START_EPOCHS, PEAK_LR

CROPS = ("none", "random_resized")  # random_resized: the ImageNet from-scratch recipe's crops
SOURCES = ("files", "formula")  # formula: images generated on the fly (training/formula_images.py)
DEVICES = ("auto", "cpu", "cuda")
LR_RULES = ("none", "sqrt", "linear")


class ConfigError(InspectorError):
    """A training configuration is missing a value, has a wrong type or an impossible value."""


@dataclass(kw_only=True, slots=True)
class DataConfig:
    # Exactly one of manifest (CSV path,content_hash,label,split) or data_root (train/ and val/
    # folders), except for runs whose caller hands the trainer its images directly (source=...).
    manifest: str | None = None
    data_root: str | None = None
    class_names: list[str] = field(default_factory=list)  # required with a manifest; from folders otherwise
    input_size: int = 224
    in_chans: int = 3
    # Decode every image once and keep it (uint8, at input size) in memory; None: when it fits in
    # IN_MEMORY_LIMIT_BYTES. Either way batches are augmented as tensors on the training device.
    in_memory: bool | None = None
    crop: str = "none"
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # Draw every class equally often; None: when the largest class has BALANCE_RATIO times the smallest.
    class_balanced: bool | None = None
    num_workers: int = 2
    # Pretraining: images generated on the fly instead of files (no manifest, no download).
    source: str = "files"
    formula_categories: int = 1000
    formula_images_per_epoch: int = 50_000
    formula_seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.augment, dict):
            try:
                self.augment = AugmentConfig(**self.augment)
            except (TypeError, ValueError) as e:
                raise ConfigError(f"data.augment: {e}") from None
        if self.source not in SOURCES:
            raise ConfigError(f"data.source must be one of {', '.join(SOURCES)}, got {self.source!r}")
        if self.source == "formula":
            _check_int("data.formula_categories", self.formula_categories, 2)
            _check_int("data.formula_images_per_epoch", self.formula_images_per_epoch, 1)
            _check_int("data.formula_seed", self.formula_seed, 0)
        if self.manifest is not None and self.data_root is not None:
            raise ConfigError("give one of data.manifest (CSV) or data.data_root (folder with train/ and val/), not both")
        if self.manifest is not None and not self.class_names:
            raise ConfigError("data.class_names is required with a manifest")
        if len(set(self.class_names)) != len(self.class_names):
            raise ConfigError("data.class_names has duplicates")
        _check_int("data.input_size", self.input_size, 32)
        if self.input_size % 32:
            raise ConfigError(f"data.input_size must be a multiple of 32 (the network stride), got {self.input_size}")
        if self.in_chans not in (1, 3):
            raise ConfigError(f"data.in_chans must be 1 (grayscale) or 3 (RGB), got {self.in_chans!r}")
        if self.crop not in CROPS:
            raise ConfigError(f"data.crop must be one of {', '.join(CROPS)}, got {self.crop!r}")
        _check_optional_bool("data.in_memory", self.in_memory)
        _check_optional_bool("data.class_balanced", self.class_balanced)
        _check_int("data.num_workers", self.num_workers, 0)


@dataclass(kw_only=True, slots=True)
class ModelConfig:
    base: str = "aan_s"  # an architecture name (from scratch) or a checkpoint path (fine-tune)
    pool: str | None = None  # None: the architecture's default, or the base checkpoint's own
    freeze_stem: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.base, str) or not self.base:
            raise ConfigError("model.base must be a checkpoint path or an architecture name")
        from core.model import POOLS

        if self.pool is not None and self.pool not in POOLS:
            raise ConfigError(f"model.pool must be one of {', '.join(POOLS)}, got {self.pool!r}")
        _check_bool("model.freeze_stem", self.freeze_stem)


@dataclass(kw_only=True, slots=True)
class OptimConfig:
    lr: float = PEAK_LR  # peak learning rate at a global batch of `reference_batch`
    lr_rule: str = "sqrt"  # how lr follows the real global batch: none, sqrt or linear scaling
    reference_batch: int = 32
    weight_decay: float = 0.05  # on weights only: never on biases, norms or alphas
    label_smoothing: float = 0.1
    grad_clip: float | None = 5.0  # max global gradient norm; None: no clipping
    ema: bool = True  # evaluate and export an exponential moving average of the weights
    ema_fraction: float = 0.1  # the EMA's time constant as a fraction of all optimiser steps

    def __post_init__(self) -> None:
        _check_float("optim.lr", self.lr, positive=True)
        if self.lr_rule not in LR_RULES:
            raise ConfigError(f"optim.lr_rule must be one of {', '.join(LR_RULES)}, got {self.lr_rule!r}")
        _check_int("optim.reference_batch", self.reference_batch, 1)
        _check_float("optim.weight_decay", self.weight_decay)
        _check_float("optim.label_smoothing", self.label_smoothing)
        if self.label_smoothing >= 1:
            raise ConfigError("optim.label_smoothing must be below 1")
        if self.grad_clip is not None:
            _check_float("optim.grad_clip", self.grad_clip, positive=True)
        _check_bool("optim.ema", self.ema)
        _check_float("optim.ema_fraction", self.ema_fraction, positive=True)
        if self.ema_fraction > 1:
            raise ConfigError("optim.ema_fraction must be at most 1")

    def scaled_lr(self, global_batch: int) -> float:
        ratio = global_batch / self.reference_batch
        return self.lr * {"none": 1.0, "sqrt": math.sqrt(ratio), "linear": ratio}[self.lr_rule]


@dataclass(kw_only=True, slots=True)
class ScheduleConfig:
    epochs: int = FROM_START_EPOCHS
    batch_size: int = 32  # per process
    warmup_epochs: float = 3.0
    min_lr_factor: float = 0.01  # cosine ends at this fraction of the peak: the last steps still learn
    max_steps_per_epoch: int | None = None  # caps an epoch; for tests and smoke runs

    def __post_init__(self) -> None:
        _check_int("schedule.epochs", self.epochs, 1)
        _check_int("schedule.batch_size", self.batch_size, 1)
        _check_float("schedule.warmup_epochs", self.warmup_epochs)
        _check_float("schedule.min_lr_factor", self.min_lr_factor)
        if self.min_lr_factor > 1:
            raise ConfigError("schedule.min_lr_factor must be at most 1")
        if self.max_steps_per_epoch is not None:
            _check_int("schedule.max_steps_per_epoch", self.max_steps_per_epoch, 1)


@dataclass(kw_only=True, slots=True)
class RunConfig:
    out_dir: str | None = None  # None: an in-process run that writes no files (demo, scan, bench)
    seed: int = 0
    device: str = "auto"
    compile: bool = False
    log_every: int = 10  # optimiser steps between step records in metrics.jsonl
    # Provenance, copied into the exported checkpoint.
    job_id: str | None = None
    snapshot_id: int | None = None
    parent: str | None = None  # parent model id or name; defaults to the base checkpoint's file name
    trainer: str = "training.finetune"  # who ran it (demo, label scan, bench, job)

    def __post_init__(self) -> None:
        if self.out_dir is not None and not self.out_dir:
            raise ConfigError("run.out_dir must not be empty")
        _check_int("run.seed", self.seed, 0)
        if self.device not in DEVICES:
            raise ConfigError(f"run.device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        _check_bool("run.compile", self.compile)
        _check_int("run.log_every", self.log_every, 1)


SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "optim": OptimConfig,
                             "schedule": ScheduleConfig, "run": RunConfig}

# Job files written before the sections existed were one flat object with these names.
_FLAT = {
    "manifest": ("data", "manifest"), "data_root": ("data", "data_root"), "class_names": ("data", "class_names"),
    "input_size": ("data", "input_size"), "in_chans": ("data", "in_chans"), "class_balanced": ("data", "class_balanced"),
    "num_workers": ("data", "num_workers"), "base": ("model", "base"), "freeze_stem": ("model", "freeze_stem"),
    "lr": ("optim", "lr"), "weight_decay": ("optim", "weight_decay"), "label_smoothing": ("optim", "label_smoothing"),
    "epochs": ("schedule", "epochs"), "batch_size": ("schedule", "batch_size"),
    "warmup_epochs": ("schedule", "warmup_epochs"), "max_steps_per_epoch": ("schedule", "max_steps_per_epoch"),
    "out_dir": ("run", "out_dir"), "seed": ("run", "seed"), "device": ("run", "device"), "compile": ("run", "compile"),
    "log_every": ("run", "log_every"), "job_id": ("run", "job_id"), "snapshot_id": ("run", "snapshot_id"),
    "parent": ("run", "parent"),
}


@dataclass(kw_only=True, slots=True)
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | os.PathLike) -> Path:
        """Atomic, so a reader never sees half a config."""
        return write_text_atomic(path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_dict(cls, raw: Any, source: str = "config") -> "TrainConfig":
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: expected a JSON object")
        if not set(raw) & set(SECTIONS):
            raw = _from_flat(raw, source)
        unknown = sorted(set(raw) - set(SECTIONS))
        if unknown:
            raise ConfigError(f"{source}: unknown section {unknown[0]!r} (sections: {', '.join(SECTIONS)})")
        parts = {}
        for name, section in SECTIONS.items():
            values = raw.get(name, {})
            if not isinstance(values, dict):
                raise ConfigError(f"{source}: section {name!r} must be an object")
            known = {f.name for f in fields(section)}
            bad = sorted(set(values) - known)
            if bad:
                raise ConfigError(f"{source}: unknown setting {name}.{bad[0]}")
            try:
                parts[name] = section(**values)
            except TypeError as e:
                raise ConfigError(f"{source}: {name}: {e}") from None
        return cls(**parts)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TrainConfig":
        path = Path(path)
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None
        return cls.from_dict(raw, str(path))


def _from_flat(raw: dict, source: str) -> dict:
    out: dict[str, dict] = {}
    for key, value in raw.items():
        if key == "augment":  # the flat files named a recipe: "industrial" or "imagenet"
            if value == "imagenet":
                out.setdefault("data", {}).update(crop="random_resized", augment=IMAGENET_AUGMENT)
            elif value != "industrial":
                raise ConfigError(f"{source}: augment must be 'industrial' or 'imagenet', got {value!r}")
            continue
        if key not in _FLAT:
            raise ConfigError(f"{source}: unknown setting {key!r}")
        section, name = _FLAT[key]
        out.setdefault(section, {})[name] = value
    # What a flat file meant by its omissions: lr 1e-3 at a global batch of 256 scaled linearly,
    # 10 epochs of 32, one warm-up epoch, no EMA, no clipping, plain shuffling. A resumed old job
    # continues the run it started.
    optim = out.setdefault("optim", {})
    optim.setdefault("lr", 1e-3)
    optim.update(lr_rule="linear", reference_batch=256, ema=False, grad_clip=None)
    schedule = out.setdefault("schedule", {})
    schedule.setdefault("epochs", 10)
    schedule.setdefault("warmup_epochs", 1.0)
    out.setdefault("data", {}).setdefault("class_balanced", False)
    return out


# The classic from-scratch ImageNet recipe: random resized crops and horizontal flips only.
IMAGENET_AUGMENT = {"dihedral": False, "hflip": True, "affine_p": 0.0, "brightness": 0.0, "contrast": 0.0,
                    "gamma": 0.0, "blur_p": 0.0, "noise_p": 0.0}


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_float(name: str, value: Any, *, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")
    if positive and value == 0:
        raise ConfigError(f"{name} must be above 0")


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")


def _check_optional_bool(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, bool):
        raise ConfigError(f"{name} must be true, false or null, got {value!r}")
