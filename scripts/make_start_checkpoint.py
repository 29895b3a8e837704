"""Rebuild assets/aan_s_start.safetensors: aan_s pretrained on formula-driven images (no download),
the starting point `inspector finetune --base aan_s` uses by default.

The pretraining is an `inspector pretrain` job in --work (local torchrun, 2 CPU processes by default;
run the same command again after a stop and it continues), then its best checkpoint is exported in
half precision with its provenance: the command, the generator's fingerprint (what it draws), seeds,
steps, images seen, device, held-out accuracy on generated images it never trained on.

    python scripts/make_start_checkpoint.py --work runs/start          # the recorded settings (~35 min on 2 cores)
    python scripts/make_start_checkpoint.py --work runs/start --export-only --out /tmp/start.safetensors
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "assets" / "aan_s_start.safetensors"


def generator_fingerprint(categories: int, size: int, seed: int) -> str:
    """What the formula generator draws: the first images of a few categories, hashed."""
    import numpy as np

    from training.formula_images import render

    h = hashlib.sha256()
    for c in range(min(categories, 8)):
        h.update(np.ascontiguousarray(render(c, 0, size=size, count=categories, seed=seed)).tobytes())
    return h.hexdigest()[:16]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", required=True, help="the pretraining job's folder (resumable)")
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--categories", type=int, default=100)
    p.add_argument("--input-size", type=int, default=64)
    p.add_argument("--images-per-epoch", type=int, default=40_000)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64, help="per process")
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--export-only", action="store_true", help="export a finished run in --work")
    args = p.parse_args(argv)
    settings = ["--pool", "lse", "--categories", str(args.categories), "--input-size", str(args.input_size),
                "--images-per-epoch", str(args.images_per_epoch), "--epochs", str(args.epochs),
                "--batch-size", str(args.batch_size), "--seed", str(args.seed)]
    work = Path(args.work)
    if not args.export_only:
        from app.cli import main as inspector

        rc = inspector(["pretrain", "--out", str(work), *settings, "--gpus", "0", "--nproc", str(args.nproc),
                        "--workers", "1", "--wait"])
        if rc != 0:
            return rc
    from training.pretrain import export_start

    best = work / "out" / "best.safetensors"
    if not best.exists():
        sys.exit(f"{best}: no pretrained checkpoint yet (run without --export-only)")
    records = [json.loads(line) for line in (work / "out" / "metrics.jsonl").read_text().splitlines() if line.strip()]
    epochs = [r for r in records if r.get("kind") == "epoch"]
    last = max(epochs, key=lambda r: r["val_balanced_acc"])  # the epoch best.safetensors was saved at
    cfg = json.loads((work / "job.json").read_text())
    provenance = {
        # What reproduces it (folders of this machine are not part of it).
        "command": shlex.join(["python", "scripts/make_start_checkpoint.py", "--work", "DIR", *settings[2:]]),
        "data": {"generator": "training.formula_images", "categories": args.categories, "seed": args.seed,
                 "input_size": args.input_size, "in_chans": cfg["data"]["in_chans"],
                 "generator_fingerprint": generator_fingerprint(args.categories, args.input_size, args.seed)},
        "epochs": last["epoch"] + 1, "steps": last["global_step"],
        "images_seen": (last["epoch"] + 1) * args.images_per_epoch, "device": "cpu", "processes": args.nproc,
        "held_out": {"images": last["val_images"], "accuracy": last["val_acc"],
                     "chance": 1 / args.categories},
    }
    path = export_start(best, args.out, provenance=provenance)
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB, held-out accuracy {provenance['held_out']['accuracy']:.1%} "
          f"on {args.categories} categories (chance {1 / args.categories:.1%}), {provenance['steps']} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
