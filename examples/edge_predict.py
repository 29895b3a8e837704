#!/usr/bin/env python3
"""Classify images with an Inspector ONNX export, on a machine with no PyTorch and no Inspector.

Needs only onnxruntime, numpy and pillow:

    pip install onnxruntime numpy pillow
    python edge_predict.py model.onnx part1.png part2.png [--json]

Everything the model needs to read an image (input size, channels, mean/std, class names) is in the
ONNX file's metadata ("inspector", written by `inspector export --format onnx`), so this file has no
settings of its own. Preprocessing is Inspector's: EXIF orientation applied, transparency on white,
16-bit images stretched to 8 bits, colour to Inspector's gray for a gray model, the whole image resized (bilinear, antialiased; no crop) to the
model's square input, then (x / 255 - mean) / std.

An export made with `--with-attention` also outputs each attention layer's probabilities
("attention_0", ...; their grids and heads are listed in the metadata under provenance.onnx.attention);
this example reads only the logits.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps


def load_model(path: str) -> tuple[ort.InferenceSession, dict]:
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    if "inspector" not in meta:
        sys.exit(f"{path}: not an Inspector export (no 'inspector' metadata)")
    return session, json.loads(meta["inspector"])


def preprocess(path: str, meta: dict) -> np.ndarray:
    """One image file -> (C, s, s) float32, as Inspector's prediction sees it."""
    im = ImageOps.exif_transpose(Image.open(path))
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, np.float64)
        lo, hi = float(a.min()), float(a.max())
        im = Image.fromarray(((a - lo) * (255.0 / (hi - lo)) if hi > lo else a * 0).astype(np.uint8))
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    if meta["in_chans"] == 1 and im.mode != "L":
        # Inspector's luma (ITU-R 601, truncated as torchvision does); PIL's convert("L") rounds,
        # which shifts every pixel by half a level on average.
        rgb = np.asarray(im.convert("RGB"), np.float32)
        im = Image.fromarray(np.floor(rgb @ np.array([0.2989, 0.587, 0.114], np.float32)).astype(np.uint8))
    im = im.convert("L" if meta["in_chans"] == 1 else "RGB")
    s = int(meta["input_size"])
    if im.size != (s, s):
        im = im.resize((s, s), Image.Resampling.BILINEAR, reducing_gap=None)
    x = np.asarray(im, np.float32).reshape(s, s, -1).transpose(2, 0, 1) / 255.0
    mean = np.asarray(meta["mean"], np.float32).reshape(-1, 1, 1)
    std = np.asarray(meta["std"], np.float32).reshape(-1, 1, 1)
    return (x - mean) / std


def predict(session: ort.InferenceSession, meta: dict, paths: list[str]) -> list[dict]:
    batch = np.stack([preprocess(p, meta) for p in paths]).astype(np.float32)
    logits = session.run(["logits"], {"image": batch})[0]
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = z / z.sum(axis=1, keepdims=True)
    names = meta["class_names"]
    return [{"path": p, "class": names[int(row.argmax())], "confidence": float(row.max()),
             "probabilities": {n: round(float(v), 6) for n, v in zip(names, row)}} for p, row in zip(paths, probs)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="an .onnx file written by `inspector export --format onnx`")
    ap.add_argument("images", nargs="+", help="image files")
    ap.add_argument("--json", action="store_true", help="one JSON object per image, with every class probability")
    args = ap.parse_args()
    session, meta = load_model(args.model)
    for r in predict(session, meta, args.images):
        print(json.dumps(r) if args.json else f"{r['path']}: {r['class']} ({r['confidence']:.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
