"""Checkpoints: one safetensors file; the JSON metadata lives in its header under "inspector".

Loading never unpickles: safetensors holds raw tensors only, and every mismatch between the file
and the architecture it claims is reported in one line naming the problem.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.atomic import atomic_path
from core.errors import CheckpointError

FORMAT = "inspector-checkpoint/1"
META_KEY = "inspector"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(kw_only=True)
class CheckpointMeta:
    arch: str
    class_names: list[str]
    in_chans: int = 3
    input_size: int = 224
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    parent: str | None = None  # parent model id or checkpoint file name
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    provenance: dict[str, Any] = field(default_factory=dict)  # free form: snapshot id, job, epochs...
    # The network's full config (AANConfig.to_dict()), pooling included; None in files written
    # before it was recorded, which `legacy_model_options` rebuilds.
    model: dict[str, Any] | None = None
    format: str = FORMAT

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str) -> "CheckpointMeta":
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{source}: metadata is not valid JSON ({e.msg})") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise CheckpointError(f"{source}: not an Inspector checkpoint (metadata format {raw.get('format')!r})")
        known = set(cls.__dataclass_fields__)
        try:
            meta = cls(**{k: v for k, v in raw.items() if k in known})
        except TypeError as e:
            raise CheckpointError(f"{source}: incomplete metadata ({e})") from None
        meta.mean, meta.std = tuple(meta.mean), tuple(meta.std)
        if not meta.class_names or not all(isinstance(c, str) for c in meta.class_names):
            raise CheckpointError(f"{source}: metadata has no class names")
        if len(meta.mean) != meta.in_chans or len(meta.std) != meta.in_chans:
            raise CheckpointError(f"{source}: mean/std do not match {meta.in_chans} input channels")
        return meta


def save_checkpoint(path: str | os.PathLike, model: nn.Module, meta: CheckpointMeta,
                    dtype: torch.dtype | None = None) -> Path:
    """Write atomically (temp file in the same folder, then rename): a crash never leaves half a file.

    `dtype` (e.g. torch.float16) stores floating-point tensors in it: half the size for a shipped
    file; loading casts back to the model's own dtype."""
    from safetensors.torch import save_file

    config = getattr(model, "config", None)
    if meta.model is None and config is not None:
        meta.model = config.to_dict()
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    if dtype is not None:
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    with atomic_path(path, durable=True) as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: meta.to_json()})
    return Path(path)


def read_metadata(path: str | os.PathLike) -> CheckpointMeta:
    """Read only the header: cheap, for listings. An ONNX export (.onnx) gives the metadata it
    carries, so a project registers and lists it like any checkpoint."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        from core.edge.onnx_model import read_onnx_metadata

        return read_onnx_metadata(path)
    header = _read_header(path)
    meta = header.get("__metadata__") or {}
    if META_KEY not in meta:
        raise CheckpointError(f"{path.name}: a safetensors file without Inspector metadata")
    return CheckpointMeta.from_json(meta[META_KEY], path.name)


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, CheckpointMeta]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from core.model import create_model, model_names

    path = Path(path)
    meta = read_metadata(path)
    if path.suffix.lower() == ".onnx":
        raise CheckpointError(f"{path.name}: an ONNX export predicts only; attention maps, head analysis and "
                              f"training need the checkpoint it was exported from ({meta.parent})")
    if meta.arch not in model_names():
        raise CheckpointError(f"{path.name}: unknown architecture {meta.arch!r} (known: {', '.join(model_names())})")
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path.name}: damaged weights ({e})") from None
    options = recorded_model_options(meta)
    try:
        model = create_model(meta.arch, meta.num_classes, meta.in_chans, **options)
    except ValueError as e:
        raise CheckpointError(f"{path.name}: model settings not understood ({e})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing:
        raise CheckpointError(f"{path.name}: missing tensor {missing[0]!r}" + _more(missing) + f" for {meta.arch}")
    if extra:
        raise CheckpointError(f"{path.name}: unexpected tensor {extra[0]!r}" + _more(extra) + f" for {meta.arch}")
    for name, t in tensors.items():
        if t.shape != expected[name].shape:
            raise CheckpointError(
                f"{path.name}: tensor {name!r} has shape {tuple(t.shape)}, {meta.arch} expects {tuple(expected[name].shape)}"
            )
    model.load_state_dict(tensors, strict=True)
    model.eval()
    return model.to(device), meta


# The variants as they were before checkpoints recorded their config (commit 109887a and earlier):
# mean pooling, and these shapes. Frozen here so that changing a variant never breaks an old file.
_LEGACY_V1 = {
    "aan_s": {"stem_channels": [16, 24, 48], "embed_dims": [128, 256], "depths": [4, 5], "num_heads": [4, 8],
              "mlp_ratio": 2.5, "head_dim": 32, "pool": "mean"},
    "aan_t": {"stem_channels": [8, 16, 32], "embed_dims": [64, 128], "depths": [1, 1], "num_heads": [2, 4],
              "mlp_ratio": 2.0, "head_dim": 32, "pool": "mean"},
}


def recorded_model_options(meta: CheckpointMeta) -> dict[str, Any]:
    """The full model config a checkpoint was trained with. A setting its metadata lacks was added
    after it was written, and AANConfig's default for it is what the model was before it existed
    (not today's variant: aan_s changed its stem and stages in issue 10), so the default fills it."""
    if meta.model is None:
        return legacy_model_options(meta.arch)
    return _with_config_defaults(meta.model)


def legacy_model_options(arch: str) -> dict[str, Any]:
    """Model options of a checkpoint whose metadata names none (written before they existed)."""
    return _with_config_defaults(_LEGACY_V1.get(arch, {"pool": "mean"}))


def _with_config_defaults(options: dict[str, Any]) -> dict[str, Any]:
    from core.model.aan import AANConfig

    return {**AANConfig().to_dict(), **options}


def _more(names: list[str]) -> str:
    return f" and {len(names) - 1} more" if len(names) > 1 else ""


def _read_header(path: Path) -> dict:
    """Parse the safetensors header ourselves so that any non-checkpoint file gets a clear message."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(f"{path.name}: not a checkpoint (file is {size} bytes)")
            n = int.from_bytes(head, "little")
            if n <= 0 or n > 100_000_000 or 8 + n > size:
                raise CheckpointError(f"{path.name}: not a safetensors checkpoint, or truncated (bad header length)")
            raw = f.read(n)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a folder, not a checkpoint") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{path.name}: not a safetensors checkpoint (unreadable header)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path.name}: not a safetensors checkpoint (header is not a table)")
    end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)), default=0)
    if 8 + n + end > size:
        raise CheckpointError(f"{path.name}: truncated ({size} bytes, the header promises {8 + n + end})")
    return header
