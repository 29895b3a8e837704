"""`inspector model-info`."""
from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model-info", help="architecture, size, cost, classes and alphas of a checkpoint")
    p.add_argument("checkpoint", metavar="CKPT", help="a .safetensors checkpoint written by Inspector, or its .onnx export")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=model_info)


def model_info(args: argparse.Namespace) -> int:
    from core.edge.onnx_model import is_onnx_path
    from core.model.checkpoint import load_checkpoint
    from core.model.complexity import count_gmacs, count_params

    if is_onnx_path(args.checkpoint):
        return _onnx_info(args)
    model, meta = load_checkpoint(args.checkpoint)
    info = {
        "checkpoint": str(args.checkpoint),
        "arch": meta.arch,
        "params": count_params(model),
        "gmacs": round(count_gmacs(model, meta.input_size, meta.in_chans), 4),
        "input_size": meta.input_size,
        "in_chans": meta.in_chans,
        "mean": list(meta.mean),
        "std": list(meta.std),
        "classes": meta.class_names,
        "parent": meta.parent,
        "created": meta.created,
        "provenance": meta.provenance,
        "alphas": [[round(a, 4) for a in layer.detach().tolist()] for layer in model.alphas()],
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['checkpoint']}")
    print(f"  architecture  {meta.arch}  ({info['params'] / 1e6:.3f} M parameters, "
          f"{info['gmacs']:.3f} GMACs at {meta.input_size}x{meta.input_size}x{meta.in_chans})")
    print(f"  classes       {len(meta.class_names)}: {_class_list(meta.class_names)}")
    print(f"  created       {meta.created}" + (f"  parent {meta.parent}" if meta.parent else ""))
    _print_provenance(meta.provenance)
    print("  alpha per head")
    for i, layer in enumerate(info["alphas"]):
        print(f"    layer {i:2d}  " + " ".join(f"{a:+.3f}" for a in layer))
    return 0


def _onnx_info(args: argparse.Namespace) -> int:
    """An ONNX export: its metadata and export record (no PyTorch model to count or read alphas from)."""
    from pathlib import Path

    from core.edge.onnx_model import onnx_record, read_onnx_metadata

    meta = read_onnx_metadata(args.checkpoint)
    record = onnx_record(meta)
    info = {"checkpoint": str(args.checkpoint), "format": "onnx", "precision": record.get("precision"),
            "bytes": Path(args.checkpoint).stat().st_size, "arch": meta.arch, "input_size": meta.input_size,
            "in_chans": meta.in_chans, "mean": list(meta.mean), "std": list(meta.std), "classes": meta.class_names,
            "parent": meta.parent, "created": meta.created, "provenance": meta.provenance}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(info["checkpoint"])
    print(f"  format        ONNX {record.get('precision')}, {info['bytes'] / 1e6:.1f} MB, opset {record.get('opset')}, "
          f"input {meta.input_size}x{meta.input_size}x{meta.in_chans}")
    print(f"  architecture  {meta.arch}, exported from {meta.parent} (sha256 {str(record.get('source_sha256'))[:12]})")
    print(f"  classes       {len(meta.class_names)}: {_class_list(meta.class_names)}")
    if record.get("calibration"):
        print(f"  calibration   {json.dumps(record['calibration'])}")
    _print_provenance({k: v for k, v in meta.provenance.items() if k != "onnx"})
    return 0


def _print_provenance(provenance: dict) -> None:
    if provenance:  # a model with no recorded origin prints no empty heading
        print("  provenance")
        print("\n".join(_provenance_lines(provenance)))


def _provenance_lines(provenance: dict, indent: str = "    ") -> list[str]:
    """One line per entry; a command chain one command per line, a list of records (the curriculum)
    one record per line, and long records inside records elided (`--json` has all):
    a start built on a start nests its whole history, which on one line nobody can read."""
    width = max(len(k) for k in provenance) + 2
    lines = []
    for key, value in provenance.items():
        head = f"{indent}{key:<{width}}"
        if isinstance(value, str) and " && " in value:
            first, *rest = value.split(" && ")
            lines += [head + first, *(f"{indent}{'':<{width}}&& {cmd}" for cmd in rest)]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines += [f"{head if i == 0 else indent + ' ' * width}{i + 1}. {_inline(v)}" for i, v in enumerate(value)]
        else:
            lines.append(head + _inline(value))
    return lines


def _inline(value, depth: int = 0) -> str:
    if isinstance(value, dict):
        text = ", ".join(f"{k} {_inline(v, depth + 1)}" for k, v in value.items())
        return text if depth == 0 else "{...}" if len(text) > 60 else "{" + text + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v, depth + 1) for v in value) + "]"
    return "-" if value is None else str(value)


def _class_list(names: list[str], shown: int = 12) -> str:
    """The classes in one readable line: a pretraining checkpoint has 1000 (--json lists them all)."""
    if len(names) <= shown:
        return ", ".join(names)
    return ", ".join(names[:shown]) + f", ... and {len(names) - shown} more (--json lists all)"
