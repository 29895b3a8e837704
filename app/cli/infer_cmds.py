"""`inspector predict`, `review`, `label-scan`, `heads`, `train-demo`: prediction and evidence from the command line."""
from __future__ import annotations

import argparse
import json
import sys
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict every image of a project with a checkpoint (resumable)",
                       description="Registers the checkpoint as a model version if it is new, then predicts every "
                                   "readable image not yet predicted by it. Progress goes to stderr.")
    p.add_argument("--db", required=True, metavar="PROJECT.db")
    p.add_argument("--model", required=True, metavar="CKPT", help="a .safetensors checkpoint written by Inspector")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=None, help="decoding processes (default: a quarter of the cores, 0 on 2 cores = decode in-process)")
    p.set_defaults(func=predict)

    p = sub.add_parser("review", help="ranked suspected label errors, disagreements and unsure predictions",
                       description="Confident learning on the stored predictions of a model version against the "
                                   "current labels. Scores are saved so the GUI can filter on them.")
    p.add_argument("--db", required=True, metavar="PROJECT.db")
    p.add_argument("--model", type=int, default=None, metavar="ID", help="model version id (default: newest with predictions)")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="rows to print (0 = all)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=review)

    p = sub.add_parser("label-scan", help="suspected label errors without a trained model (trains a small one, minutes)",
                       description="Trains a small aan_t from scratch on the current labels and ranks every labelled "
                                   "image by confident learning on its probabilities averaged over early training, "
                                   "before wrong labels are memorised. Nothing is written to the project.")
    p.add_argument("--db", required=True, metavar="PROJECT.db")
    p.add_argument("--split", action="append", dest="splits", metavar="SPLIT",
                   help="only images of this split (repeatable; default: all labelled images)")
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--input-size", type=int, default=96)
    p.add_argument("--limit", type=int, default=20, metavar="N", help="rows to print (0 = all)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=label_scan)

    p = sub.add_parser("heads", help="per layer and head: alpha, attention entropy, alignment with defect masks")
    p.add_argument("--db", required=True, metavar="PROJECT.db")
    p.add_argument("--model", required=True, metavar="CKPT")
    p.add_argument("--limit", type=int, default=300, metavar="N", help="defect images to analyse at most (0 = all)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=heads)

    p = sub.add_parser("train-demo", help="train a small first model on a project's labels (minutes on a CPU)")
    p.add_argument("--db", required=True, metavar="PROJECT.db")
    p.add_argument("--out", required=True, metavar="CKPT")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--input-size", type=int, default=128)
    p.add_argument("--seconds", type=float, default=None, help="time budget; training stops when it is spent")
    p.add_argument("--arch", default="aan_s")
    p.set_defaults(func=train_demo)


class ProgressBar:
    """A one-line bar on stderr, redrawn at most 10 times a second; plain lines when not a terminal."""

    def __init__(self, label: str):
        self.label = label
        self.last = 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if total == 0:
            return
        now = time.monotonic()
        if done < total and now - self.last < (0.1 if self.tty else 5.0):
            return
        self.last = now
        frac = done / total if total else 1.0
        bar = "#" * int(frac * 30)
        line = f"{self.label} [{bar:<30}] {done}/{total}"
        if self.tty:
            print("\r" + line, end="\n" if done >= total else "", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


def _model_id_for(project, ckpt: str) -> int:
    """The model version of this checkpoint file, registered now if it is new."""
    from pathlib import Path

    from core.model.checkpoint import read_metadata
    from core.store import model_versions

    path = Path(ckpt).expanduser().resolve()
    meta = read_metadata(path)  # a clear error for a non-checkpoint before anything is written
    with project.session(write=True) as session:
        for m in model_versions.list_model_versions(session):
            if Path(m.path).resolve() == path:
                return m.id
        return model_versions.register_model_version(session, str(path), meta)


def predict(args: argparse.Namespace) -> int:
    from core.errors import InspectorError
    from core.inference.predict import predict_project
    from core.store import open_project

    if args.batch_size < 1 or (args.workers is not None and args.workers < 0):
        raise InspectorError("--batch-size must be at least 1 and --workers at least 0")
    with open_project(args.db, create=False) as project:
        model_id = _model_id_for(project, args.model)
        report = predict_project(project, model_id, device=args.device, batch_size=args.batch_size,
                                 num_workers=args.workers, progress=ProgressBar(f"model {model_id}"))
    print(report.summary())
    for image_id, err in report.errors[:10]:
        print(f"  unreadable: image {image_id}: {err}", file=sys.stderr)
    return 0


def review(args: argparse.Namespace) -> int:
    from core.inference.review import latest_predicted_model, review_model
    from core.store import open_project

    with open_project(args.db, create=False) as project:
        with project.session(write=True) as session:
            model_id = args.model if args.model is not None else latest_predicted_model(session)
            items = review_model(session, model_id)
    _print_review(f"model {model_id}", {"model_id": model_id}, items, args)
    return 0


def label_scan(args: argparse.Namespace) -> int:
    from core.store import open_project
    from training.label_scan import scan_label_errors

    bar = ProgressBar("label scan")
    with open_project(args.db, create=False) as project:
        items = scan_label_errors(project, splits=args.splits, epochs=args.epochs, input_size=args.input_size,
                                  progress=lambda _msg, frac: bar(round(frac * 100), 100))
    _print_review("label scan", {"epochs": args.epochs, "input_size": args.input_size}, items, args)
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
    from core.data.decode import ImageDecodeError, load_image
    from core.inference.heads import analyse_heads, sort_for_display
    from core.inference.predict import prepare_model, resolve_device
    from core.model.checkpoint import load_checkpoint
    from core.store import open_project
    from core.store.queries import ImageFilter, all_images

    dev = resolve_device(args.device)
    model, meta = load_checkpoint(args.model)
    model = prepare_model(model, dev)
    with open_project(args.db, create=False) as project, project.session() as session:
        every = all_images(session, ImageFilter(readable=True))
    limit = args.limit if args.limit > 0 else len(every)
    # Defect images carry the alignment; a few without masks too, so alpha and entropy always show.
    images = [r for r in every if r.mask_path][:limit]
    images += [r for r in every if not r.mask_path][: max(16, limit // 4)]

    def items():
        for r in images:
            try:
                yield load_image(r.abs_path), (load_image(r.mask_path) if r.mask_path else None)
            except ImageDecodeError:
                continue

    stats = sort_for_display(analyse_heads(model, meta, items()))
    if args.json:
        print(json.dumps({"model": str(args.model), "defect_images": stats[0].n_defect if stats else 0,
                          "heads": [s.to_dict() for s in stats]}, indent=2))
        return 0
    n = stats[0].n_defect if stats else 0
    print(f"{args.model}: {n} defect images with masks")
    if n == 0:
        print("  no images with defect masks: alignment columns are empty")
    print(f"{'layer':>5} {'head':>4} {'grid':>6} {'alpha':>7} {'entropy':>7} {'in mask':>7} {'area':>6} {'lift':>5} {'pointing':>8}")
    for s in stats:
        grid = f"{s.grid[0]}x{s.grid[1]}"
        print(f"{s.layer:>5} {s.head:>4} {grid:>6} {s.alpha:+7.3f} {s.entropy:7.3f} {_pct(s.mask_mass):>7} "
              f"{_pct(s.area):>6} {_num(s.lift):>5} {_pct(s.pointing):>8}")
    return 0


def train_demo(args: argparse.Namespace) -> int:
    from core.store import open_project
    from training.demo_train import train_demo_model

    def progress(msg: str, frac: float) -> None:
        print(f"[{frac:4.0%}] {msg}", file=sys.stderr, flush=True)

    with open_project(args.db, create=False) as project:
        path = train_demo_model(project, args.out, epochs=args.epochs, input_size=args.input_size,
                                seconds_budget=args.seconds, progress=progress, arch=args.arch)
        model_id = _model_id_for(project, str(path))
    from core.model.checkpoint import read_metadata

    prov = read_metadata(path).provenance
    acc = prov.get("test_accuracy")
    print(f"{path}: model {model_id}, {prov.get('seconds')} s, test accuracy "
          + (f"{acc:.1%}" if acc is not None else "n/a (no test split)"))
    return 0


def _pct(x: float) -> str:
    return "-" if x != x else f"{x:.0%}"


def _num(x: float) -> str:
    return "-" if x != x else f"{x:.2f}"
