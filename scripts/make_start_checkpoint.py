"""Rebuild assets/aan_s_start.safetensors: aan_s pretrained on formula-driven images (no download),
the starting point `inspector finetune --base aan_s` uses by default.

The pretraining is `inspector pretrain` jobs (local torchrun, 2 CPU processes by default; run the
same command again after a stop and it continues): 100 categories, then 1000 from those weights (a
curriculum: from random weights, 1000 categories stayed at chance on CPU; see training/README.md),
both at 64 px; then, with --continue-from, the 1000 categories at 128 px, the size fine-tuning uses.
Each export is half precision with its provenance: the commands, the generator's fingerprint (what
it draws), seeds, every stage's steps and images seen, device, held-out accuracy on generated images
it never trained on.

The shipped start is these two commands (about 60 + 15 min on 2 cores):

    python scripts/make_start_checkpoint.py --work runs/start
    python scripts/make_start_checkpoint.py --work runs/start128 --continue-from assets/aan_s_start.safetensors \
        --epochs 3 --input-size 128 --lr 5e-4

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
    p.add_argument("--work", required=True, help="the pretraining jobs' folder (resumable)")
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--categories", type=int, default=100, help="first stage")
    p.add_argument("--epochs", type=int, default=20, help="first stage")
    p.add_argument("--then-categories", type=int, default=1000,
                   help="second stage, from the first one's weights (0: none)")
    p.add_argument("--then-epochs", type=int, default=8)
    p.add_argument("--input-size", type=int, default=64)
    p.add_argument("--images-per-epoch", type=int, default=40_000)
    p.add_argument("--batch-size", type=int, default=64, help="per process")
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the recipe's)")
    p.add_argument("--export-only", action="store_true", help="export a finished run in --work")
    p.add_argument("--continue-from", metavar="START", help="one more stage (same categories; --epochs, --input-size, "
                   "--lr apply to it) from a start built by this script, whose provenance it extends")
    args = p.parse_args(argv)
    # The settings every stage's job and recorded command share.
    shared = ["--input-size", str(args.input_size), "--images-per-epoch", str(args.images_per_epoch),
              "--batch-size", str(args.batch_size), "--seed", str(args.seed),
              *(["--lr", str(args.lr)] if args.lr else [])]
    if args.continue_from:
        return continue_start(args, shared)
    stages = [(Path(args.work), args.categories, args.epochs, None)]
    if args.then_categories:
        # From scratch, 1000 categories stayed at chance for the first 80k images on 2 CPU cores
        # (training/README.md); 100 categories learn at once, and their features carry over.
        stages.append((Path(args.work) / f"then-{args.then_categories}", args.then_categories, args.then_epochs,
                       Path(args.work) / "out" / "best.safetensors"))
    if not args.export_only:
        for work, categories, epochs, start in stages:
            rc = _pretrain(work, categories, ["--epochs", str(epochs), *shared], start, args.nproc)
            if rc != 0:
                return rc
    from training.pretrain import export_start

    done = [_stage_record(work, categories, args.images_per_epoch) for work, categories, _, _ in stages]
    final = done[-1]
    work = stages[-1][0]
    cfg = json.loads((work / "job.json").read_text())
    settings = ["--categories", str(args.categories), "--epochs", str(args.epochs),
                "--then-categories", str(args.then_categories), "--then-epochs", str(args.then_epochs), *shared]
    provenance = {
        # What reproduces it (folders of this machine are not part of it).
        "command": shlex.join(["python", "scripts/make_start_checkpoint.py", "--work", "DIR", *settings]),
        "data": {"generator": "training.formula_images", "categories": final["categories"], "seed": args.seed,
                 "input_size": args.input_size, "in_chans": cfg["data"]["in_chans"],
                 "generator_fingerprint": generator_fingerprint(final["categories"], args.input_size, args.seed)},
        "curriculum": done,
        # The trainer recorded the last stage's base as a path of this machine: say what it was instead.
        "base": "aan_s" if len(done) == 1 else f"aan_s, then the weights of the {done[0]['categories']}-category stage",
        "epochs_planned": args.epochs + (args.then_epochs if args.then_categories else 0),
        **_totals(done), "device": "cpu", "processes": args.nproc,
        "held_out": final["held_out"],
    }
    path = export_start(work / "out" / "best.safetensors", args.out, provenance=provenance)
    for d in done:
        print(f"{d['categories']} categories: held-out accuracy {d['held_out']['accuracy']:.1%} "
              f"(chance {d['held_out']['chance']:.1%}), {d['steps']} steps")
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")
    return 0


def continue_start(args, shared: list[str]) -> int:
    """Train a built start further (more images, or a larger input size) and export it with its
    whole history: the earlier stages' provenance, then this stage's command and outcome."""
    import shutil

    from core.model.checkpoint import read_metadata
    from training.pretrain import export_start

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    start = work / "from.safetensors"  # a copy: --out may be the very file this stage starts from
    if not start.exists():
        shutil.copyfile(args.continue_from, start)
    before = read_metadata(start).provenance
    missing = [k for k in ("command", "curriculum", "data", "base", "epochs_planned", "epochs", "steps", "images_seen")
               if k not in before]
    if missing:
        sys.exit(f"{args.continue_from}: not a start built by this script (its provenance has no {missing[0]!r})")
    categories = before["data"]["categories"]
    settings = ["--epochs", str(args.epochs), *shared]
    if not args.export_only:
        rc = _pretrain(work, categories, settings, start, args.nproc)
        if rc != 0:
            return rc
    stage = _stage_record(work, categories, args.images_per_epoch)
    stage["input_size"] = args.input_size
    stage["from"] = "the start built by the command before"
    data = {**before["data"], "input_size": args.input_size,
            "generator_fingerprint": generator_fingerprint(categories, args.input_size, args.seed)}
    # The recipe of the shipped file: this stage continues what the command before it built.
    command = shlex.join(["python", "scripts/make_start_checkpoint.py", "--work", "DIR2", "--continue-from",
                          "assets/aan_s_start.safetensors", *settings])
    provenance = {
        "command": f"{before['command']} && {command}", "data": data,
        "curriculum": [*before["curriculum"], stage], "base": f"{before['base']}, then {stage['epochs']} "
        f"more epochs at {args.input_size} px", "epochs_planned": before["epochs_planned"] + args.epochs,
        **_totals([*before["curriculum"], stage]), "device": "cpu", "processes": args.nproc,
        "held_out": stage["held_out"],
    }
    path = export_start(work / "out" / "best.safetensors", args.out, provenance=provenance)
    print(f"{categories} categories at {args.input_size} px: held-out accuracy {stage['held_out']['accuracy']:.1%}, "
          f"{stage['steps']} steps; {path}: {path.stat().st_size / 1e6:.1f} MB")
    return 0


def _pretrain(work: Path, categories: int, settings: list[str], start: Path | None, nproc: int) -> int:
    """One stage: an `inspector pretrain` job on the local CPUs, followed to its end (rerun: continues)."""
    from app.cli import main as inspector

    extra = ["--from", str(start)] if start else []
    return inspector(["pretrain", "--out", str(work), "--categories", str(categories), "--pool", "lse", *settings,
                      *extra, "--gpus", "0", "--nproc", str(nproc), "--workers", "1", "--wait"])


def _totals(curriculum: list[dict]) -> dict:
    """Epochs, steps and images over every stage of a curriculum."""
    return {k: sum(stage[k] for stage in curriculum) for k in ("epochs", "steps", "images_seen")}


def _stage_record(work: Path, categories: int, images_per_epoch: int) -> dict:
    """One stage's outcome, at the epoch its best.safetensors was saved."""
    best = work / "out" / "best.safetensors"
    if not best.exists():
        sys.exit(f"{best}: no pretrained checkpoint yet (run without --export-only)")
    from training.metrics_log import METRICS_FILE, read_metrics

    epochs = [r for r in read_metrics(work / "out" / METRICS_FILE) if r["kind"] == "epoch"]
    last = max(epochs, key=lambda r: r["val_balanced_acc"])
    return {"categories": categories, "epochs": last["epoch"] + 1, "steps": last["global_step"],
            "images_seen": (last["epoch"] + 1) * images_per_epoch,
            "held_out": {"images": last["val_images"], "accuracy": last["val_acc"], "chance": 1 / categories}}


if __name__ == "__main__":
    sys.exit(main())
