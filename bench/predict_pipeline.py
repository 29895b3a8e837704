"""Throughput of the whole prediction pipeline (decode, resize, infer, store) against the model alone.

    .venv/bin/python bench/predict_pipeline.py [--n 400] [--batch-size 32] [--input-size 128] [--workers 0 1 2]

Makes a demo dataset and a project in a temporary folder, registers an untrained aan_s checkpoint
(speed does not depend on the weights), then times, on the same device and batch size:
- model only: forward passes on batches already in memory;
- the pipeline: `predict_project` end to end, once per worker count, each under a fresh model
  version so that nothing is skipped as already predicted.
Prints a table with images/s and the ratio to the model alone (target: >= 80% on CPU).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=400, help="images in the generated dataset")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--input-size", type=int, default=128)
    ap.add_argument("--arch", default="aan_s")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--data", type=Path, default=None, help="an existing image folder instead of generated demo data")
    args = ap.parse_args()

    import torch

    from core.data.demo import make_demo_dataset
    from core.data.scan import scan_dataset
    from core.inference.predict import infer, predict_project, prepare_model, resolve_device
    from core.inference.preprocess import Preprocess
    from core.model import create_model
    from core.model.checkpoint import CheckpointMeta, save_checkpoint
    from core.store import open_project
    from core.store.ingest import import_scan
    from core.store.model_versions import register_model_version

    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = args.data or make_demo_dataset(tmp / "demo", n=args.n, seed=0)
        project = open_project(tmp / "bench.db")
        with project.session() as s:
            import_scan(s, scan_dataset(data), user="bench")
        meta = CheckpointMeta(arch=args.arch, class_names=["good", "scratch", "crack", "spot", "contamination"],
                              in_chans=1, input_size=args.input_size, mean=(0.5,), std=(0.1,))
        model = create_model(args.arch, len(meta.class_names), in_chans=1)
        ckpt = save_checkpoint(tmp / "m.safetensors", model, meta)
        pre = Preprocess.from_meta(meta)
        model = prepare_model(model, device)

        # Model alone: the same batches, already decoded and resized, in memory.
        with project.session() as s:
            from core.store.queries import count_images

            n_images = count_images(s)
        batch = torch.randint(0, 256, (args.batch_size, 1, args.input_size, args.input_size), dtype=torch.uint8)
        infer(model, batch, pre, device)  # warm-up
        n_batches = max(1, n_images // args.batch_size)
        t0 = time.perf_counter()
        for _ in range(n_batches):
            infer(model, batch, pre, device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        model_ips = n_batches * args.batch_size / (time.perf_counter() - t0)

        rows = [("model only (batches in memory)", model_ips, 1.0)]
        for w in args.workers:
            # A checkpoint file per run: a model version is one file, and the store knows this one already.
            run_ckpt = shutil.copy(ckpt, tmp / f"m-w{w}.safetensors")
            with project.session() as s:
                model_id = register_model_version(s, str(run_ckpt), meta, name=f"bench-w{w}")
            t0 = time.perf_counter()
            report = predict_project(project, model_id, device=str(device), batch_size=args.batch_size,
                                     num_workers=w, model=model)
            ips = report.predicted / (time.perf_counter() - t0)
            rows.append((f"pipeline, {w} decode workers", ips, ips / model_ips))
        project.close()

    print(f"\n{args.arch} {args.input_size}x{args.input_size}x1, batch {args.batch_size}, {device}, "
          f"{torch.get_num_threads()} torch threads, {n_images} PNG images (224x224 RGB)")
    print(f"{'':34} {'images/s':>9} {'of model':>9}")
    for name, ips, ratio in rows:
        print(f"{name:34} {ips:9.1f} {ratio:9.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
