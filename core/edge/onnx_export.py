"""Export an Inspector checkpoint to ONNX: fp32, or int8 by onnxruntime's static quantization (QDQ)
calibrated on a project's own images. Every export is checked against PyTorch before it is kept.

- Exporter: torch.onnx's torch.export-based exporter (the TorchScript one is deprecated since
  PyTorch 2.9 and slated for removal), opset 18, dynamic batch, the checkpoint's fixed input size
  (what onnxruntime optimises best and what the checkpoint was trained at).
- int8: weights per output channel (int8), activations per tensor (uint8), calibrated by MinMax on
  the given images. Only the layers with weights are quantized (convolutions, linear layers),
  except the first convolution (see `first_conv`);
  the attention's two activation-by-activation products and its softmax stay float, because a
  softmax's output squeezed to 256 levels loses exactly the small probabilities an attention map
  is made of (bench/export_speed.py measures agreement with PyTorch both ways).
- The file is written atomically; nothing is left behind on failure.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from torch import nn

from core.edge.onnx_model import INPUT_NAME, META_KEY, OUTPUT_NAME, OnnxClassifier, is_onnx_path
from core.errors import CheckpointError, InspectorError
from core.progress import Reporter, silent

OPSET = 18
QUANTIZED_OPS = ["Conv", "MatMul", "Gemm"]
PROBE_IMAGES = 8  # random inputs that check an fp32 export when no calibration images are given


@dataclass
class ExportReport:
    path: Path
    precision: str  # "fp32" or "int8"
    size_bytes: int
    seconds: float
    probe_images: int  # images the export was checked on against PyTorch
    max_abs_logit_diff: float
    top1_agreement: float  # share of probe images with the same top-1 class as PyTorch

    def summary(self) -> str:
        return (f"{self.path.name}: {self.precision} ONNX, {self.size_bytes / 1e6:.1f} MB, {self.seconds:.1f} s; "
                f"against PyTorch on {self.probe_images} images: top-1 agrees on {self.top1_agreement:.1%}, "
                f"max |Δlogit| {self.max_abs_logit_diff:.2g}")


def export_onnx(checkpoint: str | os.PathLike, out: str | os.PathLike, *, int8: bool = False,
                calibration: Sequence[np.ndarray] | None = None, calibration_source: dict[str, Any] | None = None,
                with_attention: bool = False, progress: Reporter | None = None) -> ExportReport:
    """Write `out` (.onnx) from an Inspector checkpoint.

    `with_attention`: the graph also outputs every attention layer's probabilities,
    "attention_<i>" (batch, heads, queries, tokens), so an edge viewer can show the maps; the
    metadata lists each layer's name, grid and heads under provenance.onnx.attention.

    `calibration`: normalised float32 images (C, s, s) as the model sees them; required for int8
    (it sets the activation ranges), and the check's probe set when given. `calibration_source` is
    recorded in the metadata (where the images came from)."""
    from core.model.checkpoint import load_checkpoint

    progress = progress or silent()
    t0 = time.monotonic()
    checkpoint, out = Path(checkpoint), Path(out)
    if is_onnx_path(checkpoint):
        raise InspectorError(f"{checkpoint.name}: already an ONNX model; export from its .safetensors checkpoint")
    if not is_onnx_path(out):
        raise InspectorError(f"{out}: the output must be a .onnx file")
    if int8 and not calibration:
        raise InspectorError("int8 export needs calibration images (--calibrate-db PROJECT.db)")
    model, meta = load_checkpoint(checkpoint)
    images = _as_batch(calibration, meta) if calibration else _random_probe(meta)

    progress.progress(0, 3, "exporting the graph")
    with tempfile.TemporaryDirectory(prefix=".inspector-export-", dir=out.parent if out.parent.exists() else None) as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        layers = attention_outputs(model, meta) if with_attention else []
        export_graph(WithAttention(model) if with_attention else model, meta.in_chans, meta.input_size, fp32,
                     extra_outputs=[f"attention_{i}" for i in range(len(layers))])
        final = fp32
        if int8:
            progress.progress(1, 3, f"calibrating int8 on {len(images)} images")
            final = quantize_graph(fp32, Path(tmp), images)
        progress.progress(2, 3, "checking against PyTorch")
        write_with_metadata(final, out, _export_meta(meta, checkpoint, int8, calibration_source, layers))
    try:
        diff, agree = _compare(model, OnnxClassifier(out, device="cpu"), images)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    progress.progress(3, 3, "done")
    return ExportReport(path=out, precision="int8" if int8 else "fp32", size_bytes=out.stat().st_size,
                        seconds=time.monotonic() - t0, probe_images=len(images), max_abs_logit_diff=diff,
                        top1_agreement=agree)


def export_graph(model, in_chans: int, input_size: int, path: Path, extra_outputs: Sequence[str] = ()) -> None:
    """Any image classifier (B, C, s, s) -> logits as a float ONNX graph with a dynamic batch
    (also used by bench/export_speed.py for the torchvision peers); `extra_outputs` names the
    outputs after the logits, when the model returns more."""
    import torch

    example = torch.zeros(2, in_chans, input_size, input_size)
    batch = torch.export.Dim("batch", min=1, max=4096)
    # The exporter reports its steps on stdout: that is not ours to print.
    with contextlib.redirect_stdout(io.StringIO()), torch.inference_mode(False), torch.no_grad():
        try:
            program = torch.onnx.export(model.eval(), (example,), dynamo=True, opset_version=OPSET, verbose=False,
                                        input_names=[INPUT_NAME], output_names=[OUTPUT_NAME, *extra_outputs],
                                        dynamic_shapes=({0: batch},))
        except Exception as e:  # noqa: BLE001 - the exporter's failures are many and untyped
            raise CheckpointError(f"{type(model).__name__}: the ONNX exporter failed ({str(e).strip().splitlines()[0][:200]})") from None
    program.save(str(path), external_data=False)


def quantize_graph(fp32: Path, tmp: Path, images: np.ndarray, *, float_attention: bool = True) -> Path:
    """An int8 copy (QDQ) of a float graph, in folder `tmp`, calibrated on `images` (N, C, s, s).
    `float_attention=False` quantizes every op onnxruntime can (the benchmark's comparison)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(images[i : i + 1] for i in range(len(images)))

        def get_next(self):
            batch = next(self._batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    prepared, int8 = tmp / "prepared.onnx", tmp / "int8.onnx"
    # Shape inference and constant folding first, as onnxruntime recommends; the symbolic pass
    # fails on the exporter's dynamic batch and is not needed with fixed spatial sizes.
    quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
    quantize_static(str(prepared), str(int8), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    op_types_to_quantize=QUANTIZED_OPS if float_attention else None,
                    nodes_to_exclude=float_nodes(prepared) if float_attention else None)
    return int8


def float_nodes(path: str | os.PathLike) -> list[str]:
    """What int8 leaves float: the attention products and the first convolution (one read of the file)."""
    import onnx

    proto = onnx.load(str(path))
    return activation_matmuls(proto) + first_conv(proto)


def _proto(model):
    import onnx

    return model if isinstance(model, onnx.ModelProto) else onnx.load(str(model))


def activation_matmuls(model) -> list[str]:
    """MatMul nodes whose both inputs are computed (attention's Q·Kᵀ and P·V), not weights.
    `model`: an ONNX file or a loaded ModelProto."""
    proto = _proto(model)
    constants = {t.name for t in proto.graph.initializer}
    constants |= {o for n in proto.graph.node if n.op_type == "Constant" for o in n.output}
    return [n.name for n in proto.graph.node
            if n.op_type == "MatMul" and not any(i in constants for i in n.input)]


def first_conv(model) -> list[str]:
    """The first convolution, kept float as is usual for int8 CNNs: it sees the raw pixels of one or
    three channels, so int8 saves little there and loses the input's fine steps. Measured on the
    demo (bench/export_speed.py's parity): top-1 agreement with PyTorch 99.4 % -> 99.6 %, accuracy
    97.4 % -> 98.0 % (PyTorch's); keeping the classifier float as well changed nothing more."""
    return [n.name for n in _proto(model).graph.node if n.op_type == "Conv"][:1]


class WithAttention(nn.Module):
    """The model, also returning each attention layer's probabilities (the explicit-softmax path
    that `capture_attention` observes, so they are exactly what the attention panel shows)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.inner = model

    def forward(self, x):
        from core.model.capture import capture_attention

        with capture_attention(self.inner) as cap:
            logits = self.inner(x)
        return (logits, *[layer.probs for layer in cap.layers])


def attention_outputs(model, meta) -> list[dict[str, Any]]:
    """Name, grid and heads of each attention layer, from one pass at the checkpoint's size."""
    import torch

    from core.model.capture import capture_attention

    with torch.no_grad(), capture_attention(model) as cap:
        model(torch.zeros(1, meta.in_chans, meta.input_size, meta.input_size))
    return [{"output": f"attention_{i}", "name": layer.name, "grid": list(layer.grid),
             "heads": int(layer.probs.shape[1]), "queries": int(layer.probs.shape[2])}
            for i, layer in enumerate(cap.layers)]


def _export_meta(meta, checkpoint: Path, int8: bool, calibration_source: dict[str, Any] | None,
                 attention: list[dict[str, Any]] | None = None) -> str:
    import dataclasses

    import onnxruntime
    import torch

    record: dict[str, Any] = {
        "precision": "int8" if int8 else "fp32",
        "source": checkpoint.name,
        "source_path": str(checkpoint.resolve()),
        "source_sha256": _sha256(checkpoint),
        "source_parent": meta.parent,
        "exporter": f"torch.onnx (torch.export) {torch.__version__}",
        "opset": OPSET,
        "onnxruntime": onnxruntime.__version__,
    }
    if attention:
        record["attention"] = attention
    if int8:
        record["quantization"] = {"format": "QDQ", "weights": "int8 per channel", "activations": "uint8 per tensor",
                                  "calibration": "MinMax", "ops": QUANTIZED_OPS, "attention": "float",
                                  "float": "first convolution"}
        record["calibration"] = calibration_source or {}
    exported = dataclasses.replace(meta, parent=checkpoint.name, provenance={**meta.provenance, "onnx": record})
    return exported.to_json()


def write_with_metadata(src: Path, out: Path, meta_json: str) -> None:
    """Copy graph `src` to `out` (atomically) with Inspector's metadata JSON in its metadata_props."""
    import onnx

    from core.atomic import atomic_path

    proto = onnx.load(str(src))
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, {META_KEY: meta_json})
    proto.producer_name, proto.doc_string = "inspector", "Inspector classifier: image (normalised) -> logits"
    with atomic_path(out, durable=True) as tmp:
        onnx.save(proto, str(tmp))


def _compare(model, exported: OnnxClassifier, images: np.ndarray) -> tuple[float, float]:
    import torch

    with torch.inference_mode():
        ref = model(torch.from_numpy(images)).numpy()
    got = np.concatenate([exported.run(images[i : i + 32]) for i in range(0, len(images), 32)])
    return float(np.abs(got - ref).max()), float((got.argmax(1) == ref.argmax(1)).mean())


def _as_batch(images: Sequence[np.ndarray], meta) -> np.ndarray:
    batch = np.stack([np.asarray(im, np.float32) for im in images])
    want = (meta.in_chans, meta.input_size, meta.input_size)
    if batch.ndim != 4 or batch.shape[1:] != want:
        raise InspectorError(f"calibration images have shape {batch.shape[1:]}, the model takes {want}")
    return batch


def _random_probe(meta) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.standard_normal((PROBE_IMAGES, meta.in_chans, meta.input_size, meta.input_size)).astype(np.float32)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
