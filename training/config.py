"""FinetuneConfig: everything one training run needs, as one JSON file (`--config job.json`).

The same file is written next to every checkpoint, so a run can be restarted, resumed and audited
from its folder alone. Validation happens here, before any process group or GPU is touched, so a
bad value fails in one line instead of in eight ranks at once.
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

AUGMENTS = ("industrial", "imagenet")
DEVICES = ("auto", "cpu", "cuda")
REFERENCE_BATCH = 256  # lr is given for this global batch and scaled linearly from it


class ConfigError(InspectorError):
    """A training configuration is missing a value, has a wrong type or an impossible value."""


@dataclass(kw_only=True, slots=True)
class FinetuneConfig:
    # Data: exactly one of manifest (CSV path,content_hash,label,split) or data_root (train/ and val/ folders).
    manifest: str | None = None
    data_root: str | None = None
    class_names: list[str] = field(default_factory=list)  # required with a manifest; from folders otherwise
    # Model: a checkpoint path (fine-tune) or an architecture name such as "aan_s" (from scratch).
    base: str = "aan_s"
    input_size: int = 224
    in_chans: int = 3
    out_dir: str = "run"
    # Optimisation.
    epochs: int = 10
    batch_size: int = 32  # per process
    lr: float = 1e-3  # at a global batch of 256; scaled linearly with the real global batch
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    class_balanced: bool = False
    freeze_stem: bool = False
    augment: str = "industrial"  # "imagenet": RandomResizedCrop + flip, the from-scratch recipe
    # Execution.
    num_workers: int = 2
    seed: int = 0
    device: str = "auto"
    compile: bool = False
    max_steps_per_epoch: int | None = None  # caps an epoch; for tests and smoke runs
    log_every: int = 10  # steps between step records in metrics.jsonl
    # Provenance, copied into the exported checkpoint.
    job_id: str | None = None
    snapshot_id: int | None = None
    parent: str | None = None  # parent model id or name; defaults to the base checkpoint's file name

    def __post_init__(self) -> None:
        if (self.manifest is None) == (self.data_root is None):
            raise ConfigError("give exactly one of manifest (CSV) or data_root (folder with train/ and val/)")
        if self.manifest is not None and not self.class_names:
            raise ConfigError("class_names is required with a manifest")
        if len(set(self.class_names)) != len(self.class_names):
            raise ConfigError("class_names has duplicates")
        if not isinstance(self.base, str) or not self.base:
            raise ConfigError("base must be a checkpoint path or an architecture name")
        _check_int("input_size", self.input_size, 16)
        if self.input_size % 32:
            raise ConfigError(f"input_size must be a multiple of 32 (the network stride), got {self.input_size}")
        if self.in_chans not in (1, 3):
            raise ConfigError(f"in_chans must be 1 (grayscale) or 3 (RGB), got {self.in_chans!r}")
        if not self.out_dir:
            raise ConfigError("out_dir is required")
        _check_int("epochs", self.epochs, 1)
        _check_int("batch_size", self.batch_size, 1)
        _check_int("num_workers", self.num_workers, 0)
        _check_int("seed", self.seed, 0)
        _check_int("log_every", self.log_every, 1)
        if self.max_steps_per_epoch is not None:
            _check_int("max_steps_per_epoch", self.max_steps_per_epoch, 1)
        _check_float("lr", self.lr, positive=True)
        _check_float("weight_decay", self.weight_decay)
        _check_float("warmup_epochs", self.warmup_epochs)
        _check_float("label_smoothing", self.label_smoothing)
        if self.label_smoothing >= 1:
            raise ConfigError("label_smoothing must be below 1")
        if self.augment not in AUGMENTS:
            raise ConfigError(f"augment must be one of {', '.join(AUGMENTS)}, got {self.augment!r}")
        if self.device not in DEVICES:
            raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        for name in ("class_balanced", "freeze_stem", "compile"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false")

    def scaled_lr(self, world_size: int) -> float:
        return self.lr * self.batch_size * world_size / REFERENCE_BATCH

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | os.PathLike) -> Path:
        """Atomic, so a reader never sees half a config."""
        return write_text_atomic(path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_dict(cls, raw: Any, source: str = "config") -> "FinetuneConfig":
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: expected a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown setting {unknown[0]!r}")
        try:
            return cls(**raw)
        except TypeError as e:
            raise ConfigError(f"{source}: {e}") from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FinetuneConfig":
        path = Path(path)
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None
        return cls.from_dict(raw, str(path))


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_float(name: str, value: Any, *, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")
    if positive and value == 0:
        raise ConfigError(f"{name} must be above 0")
