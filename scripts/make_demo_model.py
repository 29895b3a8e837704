"""Rebuild assets/demo_aan_s.safetensors: the demo's model, shipped so `make demo` shows a trained
model within a minute instead of training one for minutes on a laptop.

It is trained on images from the demo generator with a seed the demo never uses (so the demo's own
images, and its test split in particular, are held out from it), through the one trainer with the
demo recipe (training/demo_model.py), then scored on a freshly generated copy of the default demo's
test split. Everything needed to reproduce it is recorded in the checkpoint's provenance: the exact
command, the generator's source hash, seeds, epochs, steps, device and time.

    python scripts/make_demo_model.py                  # the recorded settings; ~25 min on 2 CPU cores
    python scripts/make_demo_model.py --n 3000 --epochs 20 --out /tmp/demo.safetensors --work /tmp/run
"""
from __future__ import annotations

import argparse
import hashlib
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core.data import demo, synth  # noqa: E402
from core.progress import Reporter  # noqa: E402
from training.data import MemorySource, Sample  # noqa: E402
from training.demo_model import INPUT_SIZE, IN_CHANS, demo_config, score  # noqa: E402
from training.pretrain import resolve_base  # noqa: E402
from training.trainer import TrainData, save_trained, train  # noqa: E402

OUT = ROOT / "assets" / "demo_aan_s.safetensors"
TRAIN_SEED = 101  # the demo uses seed 0; any other seed draws other images
DEFAULT_N = 6000
DEFAULT_EPOCHS = 40  # 98 % on the demo test split from scratch; ~25 min on 2 CPU cores


def generator_hash() -> str:
    """What the demo generator draws, not how its code is written: the default demo's plan (paths,
    labels, splits) and one rendered image and mask per class. A refactor keeps it; a change to
    the pixels or the plan changes it (and then the checkpoint is to be rebuilt)."""
    import numpy as np

    h = hashlib.sha256()
    for it in demo.plan_demo_dataset(demo.DEFAULT_N, 0.0, 0):
        h.update(f"{it.rel_path},{it.given_label},{it.split};".encode())
    for i, name in enumerate(sorted(synth.CLASSES)):
        sample = synth.render_sample(name, np.random.default_rng(1000 + i), demo.IMAGE_SIZE)
        h.update(np.ascontiguousarray(sample.image).tobytes())
        h.update(np.ascontiguousarray(sample.mask).tobytes())
    return h.hexdigest()[:16]


def samples(folder: Path, n: int, seed: int, split: str, classes: list[str]) -> list[Sample]:
    root = demo.make_demo_dataset(folder, n=n, seed=seed)
    index = {c: i for i, c in enumerate(classes)}
    return [Sample(str(root / it.rel_path), index[it.given_label]) for it in demo.plan_demo_dataset(n, 0.0, seed)
            if split in (it.split, "all")]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=DEFAULT_N, help="generated training images")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--base", default="aan_s", help="an architecture (random weights) or a checkpoint to fine-tune")
    p.add_argument("--start", action="store_true", help="with an architecture: its shipped starting point, as "
                   "`inspector finetune` does (the shipped demo model was trained from scratch)")
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--work", default=None, help="folder for resume state and metrics (run again to continue)")
    args = p.parse_args(argv)
    t0 = time.monotonic()
    classes = sorted(synth.CLASSES)
    base = resolve_base(args.base, from_scratch=not args.start)
    cfg = demo_config(arch=base, epochs=args.epochs)
    cfg.run.seed = args.seed
    cfg.run.out_dir = args.work
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        train_src = MemorySource.decode(samples(Path(tmp) / "train", args.n, TRAIN_SEED, "all", classes), IN_CHANS,
                                        INPUT_SIZE)
        # The default demo's test split (seed 0, 500 images): exactly the images `make demo` scores.
        demo_test = MemorySource.decode(samples(Path(tmp) / "demo", demo.DEFAULT_N, 0, "test", classes), IN_CHANS,
                                        INPUT_SIZE)
        last = [0.0]

        def show(done: int, total: int, message: str) -> None:
            if time.monotonic() - last[0] > 10 or done == total:
                last[0] = time.monotonic()
                print(f"[{done / total:4.0%}] {message}", file=sys.stderr, flush=True)

        result = train(cfg, data=TrainData(train=train_src, val=demo_test, class_names=classes),
                       reporter=Reporter(show))
    accuracy = score(result.model, demo_test, result.built.mean, result.built.std)
    steps = result.epochs_done * (len(train_src) // cfg.schedule.batch_size)
    provenance = {
        # What reproduces it (folders of this machine are not part of it).
        "command": shlex.join(["python", "scripts/make_demo_model.py", "--n", str(args.n), "--epochs", str(args.epochs),
                               "--seed", str(args.seed), "--base", args.base]
                              + (["--start"] if args.start else [])),
        "base": args.base, "start": _describe_base(base),  # not the trainer's base: a path of this machine
        "data": {"generator": "core.data.demo", "generator_sha256": generator_hash(), "seed": TRAIN_SEED, "n": args.n,
                 "noise": 0.0},
        "epochs": result.epochs_done, "steps": steps, "device": "cpu", "torch": torch.__version__,
        "threads": torch.get_num_threads(), "train_acc": result.train_acc,
        "demo_test": {"images": len(demo_test), "seed": 0, "n": demo.DEFAULT_N, "accuracy": accuracy},
        "test_accuracy": accuracy, "seconds": round(time.monotonic() - t0, 1),
    }
    path = save_trained(args.out, result.model, result.built, cfg, classes, provenance=provenance)
    accuracy = store_half(path, demo_test)
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB, demo test accuracy {accuracy:.1%}, "
          f"train accuracy {result.train_acc:.1%}, {provenance['seconds']:.0f} s")
    return 0


def _describe_base(base: str) -> dict:
    """Where training started: random weights, or a checkpoint by file name and content hash."""
    from core.model import model_names

    if base in model_names():
        return {"from_scratch": True, "arch": base}
    return {"checkpoint": Path(base).name, "sha256": hashlib.sha256(Path(base).read_bytes()).hexdigest()[:16]}


def store_half(path: Path, demo_test: MemorySource) -> float:
    """Rewrite the checkpoint in half precision (half the file; the network computes in float32
    after loading) with the accuracy the half-precision weights score: what the file will do."""
    from core.model.checkpoint import load_checkpoint, save_checkpoint

    model, meta = load_checkpoint(path)
    model.half().float()
    accuracy = score(model, demo_test, meta.mean, meta.std)
    meta.provenance["test_accuracy"] = accuracy
    meta.provenance["demo_test"]["accuracy"] = accuracy
    save_checkpoint(path, model, meta, dtype=torch.float16)
    return accuracy


if __name__ == "__main__":
    sys.exit(main())
