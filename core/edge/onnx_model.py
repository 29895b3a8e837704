"""An exported ONNX model: its Inspector metadata, checks that refuse foreign or damaged files in one
line, and an onnxruntime session wrapped so that prediction treats it like any model version.

The metadata is the checkpoint's own (`CheckpointMeta` JSON under the "inspector" key of the ONNX
model's metadata_props), plus `provenance["onnx"]`: precision, the checkpoint it was exported from
(name, SHA-256, path), exporter and opset, and for int8 the calibration set. A torch-free reader
(examples/edge_predict.py) needs nothing but that JSON to preprocess an image.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import CheckpointError

if TYPE_CHECKING:
    from core.model.checkpoint import CheckpointMeta

META_KEY = "inspector"
INPUT_NAME = "image"
OUTPUT_NAME = "logits"


def is_onnx_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() == ".onnx"


def read_onnx_metadata(path: str | os.PathLike) -> CheckpointMeta:
    """The CheckpointMeta of an ONNX file exported by Inspector; a clear CheckpointError otherwise."""
    from core.model.checkpoint import CheckpointMeta

    proto = _load_proto(Path(path))
    props = {p.key: p.value for p in proto.metadata_props}
    name = Path(path).name
    if META_KEY not in props:
        raise CheckpointError(f"{name}: an ONNX model without Inspector metadata (not exported by `inspector export`)")
    meta = CheckpointMeta.from_json(props[META_KEY], name)
    if "onnx" not in meta.provenance:
        raise CheckpointError(f"{name}: Inspector metadata without its ONNX export record")
    _check_signature(proto, meta, name)
    return meta


def onnx_record(meta: CheckpointMeta) -> dict[str, Any]:
    """provenance["onnx"] of an exported model's metadata (precision, source, exporter...)."""
    return dict(meta.provenance.get("onnx") or {})


def providers(device: str = "auto") -> list[str]:
    """onnxruntime execution providers for a device choice: CUDA first when asked for (or on auto)
    and present, the CPU always as the fallback."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device.startswith("cuda") and "CUDAExecutionProvider" not in available:
        from core.errors import InspectorError

        raise InspectorError("--device cuda: this onnxruntime has no CUDA provider (use auto or cpu)")
    cuda = device != "cpu" and "CUDAExecutionProvider" in available
    return (["CUDAExecutionProvider"] if cuda else []) + ["CPUExecutionProvider"]


def open_session(path: str | os.PathLike, *, device: str = "auto", threads: int | None = None):
    """An onnxruntime InferenceSession; a file onnxruntime cannot load is refused in one line."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are about fusions, not the user's problem
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=providers(device))
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own untyped failures
        raise CheckpointError(f"{Path(path).name}: onnxruntime cannot load it ({_first_line(e)})") from None


class OnnxClassifier:
    """Callable like the PyTorch model on a normalised float batch: (B, C, s, s) tensor -> logits.

    Lets `core.inference.predict` run an ONNX file through the same loader, batching and storage;
    `eval()`/`to()` exist so the same preparation applies (tensors stay on the CPU: onnxruntime
    moves them to its own provider)."""

    def __init__(self, path: str | os.PathLike, *, device: str = "auto", threads: int | None = None):
        self.path = Path(path)
        self.meta = read_onnx_metadata(path)
        self.session = open_session(path, device=device, threads=threads)
        self.input_name = self.session.get_inputs()[0].name

    def eval(self) -> "OnnxClassifier":
        return self

    def to(self, *_args, **_kwargs) -> "OnnxClassifier":
        return self

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.session.run([OUTPUT_NAME], {self.input_name: np.ascontiguousarray(x, np.float32)})[0]

    def __call__(self, x):
        import torch

        return torch.from_numpy(self.run(x.detach().cpu().numpy()))


def _load_proto(path: Path):
    import onnx
    from google.protobuf.message import DecodeError

    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such model file") from None
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a model file")
    if size == 0:
        raise CheckpointError(f"{path.name}: not an ONNX model (file is 0 bytes)")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError):
        raise CheckpointError(f"{path.name}: not an ONNX model, or damaged (its bytes do not parse as one)") from None
    except OSError as e:
        raise CheckpointError(f"{path.name}: cannot be read ({e.strerror or e})") from None
    if not proto.graph.node or not proto.graph.input or not proto.graph.output:
        raise CheckpointError(f"{path.name}: not an ONNX model, or damaged (no graph)")
    return proto


def _check_signature(proto, meta: CheckpointMeta, name: str) -> None:
    """The graph takes (batch, in_chans, s, s) "image" and gives (batch, classes) "logits"."""
    inputs = {i.name: i for i in proto.graph.input}
    outputs = {o.name for o in proto.graph.output}
    if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs:
        raise CheckpointError(f"{name}: graph inputs/outputs are not image -> logits")
    dims = [d.dim_value or d.dim_param for d in inputs[INPUT_NAME].type.tensor_type.shape.dim]
    want = [meta.in_chans, meta.input_size, meta.input_size]
    if len(dims) != 4 or list(dims[1:]) != want:
        raise CheckpointError(f"{name}: graph input shape {dims} does not match its metadata (batch, {want})")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:200]
