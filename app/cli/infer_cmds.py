"""`inspector predict`, `review`, `label-scan`, `heads`, `train-demo`: prediction and evidence from the command line."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.cli.project_option import add_db_option, open_db


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict every image of a project with a checkpoint (resumable)",
                       description="Registers the checkpoint as a model version if it is new, then predicts every "
                                   "readable image not yet predicted by it. Progress goes to stderr.")
    add_db_option(p)
    p.add_argument("--model", required=True, metavar="CKPT",
                   help="a .safetensors checkpoint written by Inspector, or its ONNX export (.onnx, onnxruntime)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=None, help="decoding processes (default: a quarter of the cores, 0 on 2 cores = decode in-process)")
    p.set_defaults(func=predict)

    p = sub.add_parser("review", help="ranked suspected label errors, disagreements and unsure predictions",
                       description="Confident learning on the stored predictions of a model version against the "
                                   "current labels. Scores are saved so the GUI can filter on them.")
    add_db_option(p)
    p.add_argument("--model", type=int, default=None, metavar="ID", help="model version id (default: newest with predictions)")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="rows to print (0 = all)")
    p.add_argument("--split", default="test", choices=["test", "val", "train", "all"],
                   help="which images the accuracy line counts (default: test, or all without a test split)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=review)

    p = sub.add_parser("label-scan", help="suspected label errors, from a short training on the current labels",
                       description="Trains a model on the current labels (from the project's newest model version, "
                                   "else the shipped start checkpoint, else from scratch) and ranks every labelled "
                                   "image by confident learning on its probabilities averaged over early training, "
                                   "before wrong labels are memorised. Nothing is written to the project.")
    add_db_option(p)
    p.add_argument("--split", action="append", dest="splits", metavar="SPLIT",
                   help="only images of this split (repeatable; default: all labelled images)")
    p.add_argument("--base", default=None, metavar="CKPT|ARCH",
                   help="start from this checkpoint, or from scratch with an architecture such as aan_s "
                        "(default: the project's newest model version)")
    p.add_argument("--epochs", type=int, default=None, help="default: the scan's recipe (training/label_scan.py)")
    p.add_argument("--input-size", type=int, default=None, help="default: the scan's recipe")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="rows to print (0 = all)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=label_scan)

    p = sub.add_parser("heads", help="per layer and head: alpha, attention entropy, alignment with defect masks")
    add_db_option(p)
    p.add_argument("--model", required=True, metavar="CKPT")
    p.add_argument("--limit", type=int, default=300, metavar="N", help="defect images to analyse at most (0 = all)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=heads)

    p = sub.add_parser("train-demo", help="train a first model on a project's labels in this process (minutes on a CPU)",
                       description="Trains on every labelled image outside the test split, with the small-data "
                                   "recipe (training/README.md), then scores the test split. aan_s starts from "
                                   "its shipped starting point (assets/aan_s_start.safetensors) unless --from-scratch.")
    add_db_option(p)
    p.add_argument("--out", required=True, metavar="CKPT")
    p.add_argument("--epochs", type=int, default=None, help="default: the demo recipe's")
    p.add_argument("--input-size", type=int, default=None, help="default: the demo recipe's (128)")
    p.add_argument("--arch", default="aan_s")
    p.add_argument("--from-scratch", action="store_true",
                   help="random weights instead of the architecture's shipped starting point")
    p.add_argument("--pool", default=None,
                   help="classifier pooling (default: the architecture's; another one needs --from-scratch)")
    p.set_defaults(func=train_demo)


def predict(args: argparse.Namespace) -> int:
    from app.cli.progress_line import cli_reporter
    from usecases import prediction

    prediction.check_options(args.batch_size, args.workers)
    with open_db(args) as project:
        model_id = prediction.register_checkpoint(project, args.model)
        report = prediction.predict(project, model_id, device=args.device, batch_size=args.batch_size,
                                    num_workers=args.workers, progress=cli_reporter())
    print(report.summary())
    for image_id, err in report.errors[:10]:
        print(f"  unreadable: image {image_id}: {err}", file=sys.stderr)
    return 0


def review(args: argparse.Namespace) -> int:
    from usecases import label_review

    from usecases.version_comparison import available_split, version_metrics

    with open_db(args) as project:
        model_id, items = label_review.review(project, args.model)
        split = available_split(project, args.split)
        m = version_metrics(project, model_id, split)
    where = "all labelled images" if split == "all" else f"the {split} split"
    if not args.json:
        print(f"model {model_id} on {where}: {m.n} images, accuracy {m.accuracy:.1%}, balanced {m.balanced_accuracy:.1%}")
    _print_review(f"model {model_id}", {"model_id": model_id, "metrics": {"split": split, **m.to_dict()}}, items, args)
    return 0


def label_scan(args: argparse.Namespace) -> int:
    from app.cli.progress_line import cli_reporter
    from usecases import label_error_scan

    with open_db(args) as project:
        scan = label_error_scan.label_scan(project, splits=args.splits, base=args.base, epochs=args.epochs,
                                           input_size=args.input_size, progress=cli_reporter())
    _print_review("label scan", {"base": Path(scan.base).name, "epochs": scan.epochs, "input_size": scan.input_size},
                  scan.items, args)
    return 0


def _print_review(title: str, extra: dict, items: list, args: argparse.Namespace) -> None:
    shown = items if args.limit <= 0 else items[: args.limit]
    if args.json:
        counts = {r: sum(1 for i in items if i.reason == r) for r in ("label_issue", "disagreement", "low_confidence")}
        print(json.dumps({**extra, "total": len(items), "counts": counts,
                          "items": [i.to_dict() for i in shown]}, indent=2))
        return
    if not items:
        print(f"{title}: nothing to review")
        return
    n_issues = sum(1 for i in items if i.reason == "label_issue")
    print(f"{title}: {n_issues} suspected label errors, {len(items)} images to review; showing {len(shown)}")
    width = max(len(i.rel_path) for i in shown)
    cw = max(9, *(len(str(i.label)) for i in shown), *(len(i.predicted) for i in shown))
    print(f"{'#':>4}  {'score':>5}  {'image':<{width}}  {'label':<{cw}}  {'predicted':<{cw}}  {'conf':>6}  reason")
    for i in shown:
        print(f"{i.rank:>4}  {i.score:5.3f}  {i.rel_path:<{width}}  {str(i.label):<{cw}}  {i.predicted:<{cw}}  "
              f"{i.confidence:6.1%}  {i.reason}")


def heads(args: argparse.Namespace) -> int:
    from usecases.head_analysis import analyse_project_heads

    with open_db(args) as project:
        stats = analyse_project_heads(project, args.model, limit=args.limit, device=args.device)
    n = stats[0].n_defect if stats else 0
    if args.json:
        print(json.dumps({"model": str(args.model), "defect_images": n, "heads": [s.to_dict() for s in stats]}, indent=2))
        return 0
    print(f"{args.model}: {n} defect images with masks")
    if n == 0:
        print("  no images with defect masks: alignment columns are empty")
    classes = list(dict.fromkeys(c for s in stats for c in (s.deletion_by_class or {})))
    print(f"{'layer':>5} {'head':>4} {'grid':>6} {'alpha':>7} {'entropy':>7} {'in mask':>7} {'area':>6} {'lift':>5} "
          f"{'pointing':>8} {'off: -p':>8}  " + " ".join(f"{c[:10]:>10}" for c in classes))
    for s in stats:
        grid = f"{s.grid[0]}x{s.grid[1]}"
        per = s.deletion_by_class or {}
        print(f"{s.layer:>5} {s.head:>4} {grid:>6} {s.alpha:+7.3f} {s.entropy:7.3f} {_pct(s.mask_mass):>7} "
              f"{_pct(s.area):>6} {_num(s.lift):>5} {_pct(s.pointing):>8} {_signed(s.deletion_effect):>8}  "
              + " ".join(f"{_signed(per.get(c, float('nan'))):>10}" for c in classes))
    print("off: -p = mean drop of the predicted class's probability with this head switched off (then per predicted class)")
    return 0


def train_demo(args: argparse.Namespace) -> int:
    from app.cli.progress_line import cli_reporter
    from usecases import demo_project

    with open_db(args) as project:
        t = demo_project.train_demo(project, args.out, epochs=args.epochs, input_size=args.input_size,
                                    arch=args.arch, pool=args.pool, from_scratch=args.from_scratch,
                                    progress=cli_reporter())
    acc, train_acc = t.provenance.get("test_accuracy"), t.provenance.get("train_acc")
    print(f"{t.path}: model {t.model_id}, {t.provenance.get('seconds')} s, train accuracy "
          + (f"{train_acc:.1%}" if train_acc is not None else "n/a") + ", test accuracy "
          + (f"{acc:.1%}" if acc is not None else "n/a (no test split)"))
    return 0


def _pct(x: float) -> str:
    return "-" if x != x else f"{x:.0%}"


def _signed(x: float) -> str:
    return "-" if x != x else f"{x:+.3f}"


def _num(x: float) -> str:
    return "-" if x != x else f"{x:.2f}"
