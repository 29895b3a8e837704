"""`inspector export`: a project's labels (CSV, ImageFolder links), or a model for the edge (ONNX)."""
from __future__ import annotations

import argparse

from core.errors import InspectorError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export labels (CSV / ImageFolder), or a model as ONNX (fp32 or int8)",
                       description="Labels: --db PROJECT.db with --out FILE.csv (path, label, split, abs_path, "
                                   "content_hash, label_version, updated_by, readable, image_id) and/or --imagefolder "
                                   "DIR (DIR/<label>/<file> symlinks; readable, labelled images only). "
                                   "Model: --model CKPT --format onnx --out MODEL.onnx, with the checkpoint's "
                                   "metadata inside; --int8 quantizes it, calibrated on --calibrate-n images of "
                                   "--calibrate-db. The export is checked against PyTorch before it is kept.")
    p.add_argument("--db", metavar="PROJECT", help="project whose labels to export (file or postgresql://user@host/dbname)")
    p.add_argument("--out", metavar="FILE", help="CSV file for labels, .onnx file for a model (replaced atomically)")
    p.add_argument("--imagefolder", metavar="DIR", help="new or empty folder to fill with symlinks by label")
    p.add_argument("--model", metavar="CKPT", help="an Inspector .safetensors checkpoint to export")
    p.add_argument("--format", choices=["onnx"], default=None, help="model format (onnx)")
    p.add_argument("--int8", action="store_true", help="int8 weights and activations (static, QDQ)")
    p.add_argument("--calibrate-db", metavar="PROJECT.db",
                   help="project whose images calibrate int8 and check the export (needed with --int8)")
    p.add_argument("--calibrate-n", type=int, default=None, metavar="N", help="calibration images (default 200)")
    p.add_argument("--with-attention", action="store_true",
                   help="also output every attention layer's probabilities (attention_0, attention_1, ...)")
    p.set_defaults(func=export_cmd)


def export_cmd(args: argparse.Namespace) -> int:
    if args.model:
        return _export_model(args)
    if args.format or args.int8 or args.calibrate_db or args.calibrate_n is not None or args.with_attention:
        raise InspectorError("--format, --int8 and --calibrate-* export a model: give --model CKPT")
    if not args.db:
        raise InspectorError("give --db PROJECT.db to export labels, or --model CKPT --format onnx to export a model")
    return _export_labels(args)


def _export_model(args: argparse.Namespace) -> int:
    from app.cli.progress_line import cli_reporter
    from usecases.model_export import CALIBRATION_IMAGES, export_model

    if args.db or args.imagefolder:
        raise InspectorError("--model exports a model: --db and --imagefolder are for labels (use --calibrate-db)")
    if args.format != "onnx":
        raise InspectorError("give --format onnx (the one model format so far)")
    if not args.out:
        raise InspectorError("give --out MODEL.onnx")
    report = export_model(args.model, args.out, int8=args.int8, calibrate_db=args.calibrate_db,
                          calibrate_n=args.calibrate_n or CALIBRATION_IMAGES, with_attention=args.with_attention,
                          progress=cli_reporter())
    print(report.summary())
    return 0


def _export_labels(args: argparse.Namespace) -> int:
    from app.cli.project_option import open_db
    from usecases.label_export import export_labels

    with open_db(args) as project:
        r = export_labels(project, csv=args.out, imagefolder=args.imagefolder)
    if r.csv is not None:
        print(f"{args.out}: {r.csv.written} images")
    if r.imagefolder is not None:
        t = r.imagefolder
        print(f"{args.imagefolder}: {t.written} links; left out {t.unlabeled} unlabeled, {t.unreadable} unreadable")
    return 0
