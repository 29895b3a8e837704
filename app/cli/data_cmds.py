"""`inspector demo-data`: write the synthetic brushed-metal dataset."""
from __future__ import annotations

import argparse
import sys
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo-data",
        help="write a synthetic industrial dataset (brushed metal, 4 defect kinds, MVTec-style tree)",
        description="Write DIR/metal_plate/{train,test}/<class>/*.png with defect masks under "
                    "ground_truth/, and DIR/true_labels.csv (rel_path,true_label,given_label). "
                    "Import it with: inspector import DIR/metal_plate --db PROJECT.db",
    )
    p.add_argument("dir", metavar="DIR", help="output folder (created if missing)")
    # Numbers are parsed in the command, not by argparse, so a bad value is one line through
    # InspectorError like every other user error.
    p.add_argument("--n", default=None, metavar="N", help="number of images (default 500)")
    p.add_argument("--noise", default="0", metavar="F",
                   help="fraction of training labels to flip, 0 <= F < 1 (default 0)")
    p.add_argument("--seed", default="0", metavar="S", help="random seed; same seed, same bytes (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace DIR/metal_plate if it exists")
    p.set_defaults(func=demo_data)


def demo_data(args: argparse.Namespace) -> int:
    from core.data.demo import DEFAULT_N, TRUE_LABELS, make_demo_dataset, plan_demo_dataset
    from core.errors import InspectorError

    def number(text: str, kind: type, name: str):
        try:
            return kind(text)
        except ValueError:
            raise InspectorError(f"{name} must be {'an integer' if kind is int else 'a number'}, got '{text}'") from None

    n = DEFAULT_N if args.n is None else number(args.n, int, "--n")
    noise = number(args.noise, float, "--noise")
    seed = number(args.seed, int, "--seed")
    plan = plan_demo_dataset(n, noise, seed)  # validates before anything is written

    show = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show and (done == total or done % 25 == 0):
            print(f"\rgenerating {done}/{total}", end="", file=sys.stderr, flush=True)

    start = time.perf_counter()
    root = make_demo_dataset(args.dir, n, noise, seed, progress=progress, overwrite=args.overwrite)
    if show:
        print(file=sys.stderr)
    n_train = sum(it.split == "train" for it in plan)
    flipped = sum(it.true_label != it.given_label for it in plan)
    print(f"wrote {n} images ({n_train} train, {n - n_train} test, "
          f"{flipped} training labels flipped) to {root} in {time.perf_counter() - start:.1f} s; "
          f"true labels in {root.parent / TRUE_LABELS}")
    return 0
