"""`inspector demo-data`: write the synthetic brushed-metal dataset."""
from __future__ import annotations

import argparse


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
    from app.cli.progress_line import cli_reporter
    from core.data.demo import DEFAULT_N, TRUE_LABELS
    from core.errors import InspectorError
    from usecases.demo_project import write_demo_dataset

    def number(text: str, kind: type, name: str):
        try:
            return kind(text)
        except ValueError:
            raise InspectorError(f"{name} must be {'an integer' if kind is int else 'a number'}, got '{text}'") from None

    n = DEFAULT_N if args.n is None else number(args.n, int, "--n")
    noise = number(args.noise, float, "--noise")
    seed = number(args.seed, int, "--seed")
    d = write_demo_dataset(args.dir, n, noise, seed, overwrite=args.overwrite, progress=cli_reporter())
    print(f"wrote {d.n} images ({d.n_train} train, {d.n - d.n_train} test, "
          f"{d.flipped} training labels flipped) to {d.root} in {d.seconds:.1f} s; "
          f"true labels in {d.root.parent / TRUE_LABELS}")
    return 0
