"""How well each model learns a small inspection dataset from scratch: aan_s against torchvision's
ResNet-18, MobileNetV3-Large and EfficientNet-B0, trained by the one trainer (training.trainer) with
the same recipe, data, seed and input size, one after the other in one run.

    python bench/learning.py                          # the demo generator (default size), grayscale
    python bench/learning.py --n 500 --epochs 60      # the default demo's size
    python bench/learning.py --db PROJECT.db          # a project's labels: train+val to train, test to score
    python bench/learning.py --manifest data.csv      # CSV path,label,split (split: train / val / test)
    python bench/learning.py --models "aan_s[pool=mean],aan_s[pool=attn]"   # variants of one model
    python bench/learning.py --models "aan_s,start.safetensors"             # from scratch vs from a start
    python bench/learning.py --models "aan_s,aan_s[stem_blocks=0,1,1;depths=2,5]"   # tuples: comma-separated

Printed per model: test accuracy and balanced accuracy (best epoch and last), final train accuracy
(augmented batches of the last epoch), training CPU time (this process's, evaluation excluded),
wall time and images/s, the CPU time to reach the best peer's final test accuracy, and the ratios
to the best peer; then each model's recall per class (which defects it misses). `--json` also keeps
the indices of the test images each model got wrong (do two models miss the same ones?), `--save`
the trained models. The machine is shared and noisy: CPU time holds still where wall time does not;
with `--threads 1` per process, models can run side by side, one per core, and `--report` joins
their JSON files into one table.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.peers import PEERS, count_params, peer_model  # noqa: E402
from core.inference.metrics import confusion_matrix  # noqa: E402
from core.inference.preprocess import Preprocess  # noqa: E402
from core.model import model_names  # noqa: E402
from core.progress import Reporter  # noqa: E402
from training.config import DataConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig, TrainConfig  # noqa: E402
from training.data import MemorySource, Sample, pixel_stats  # noqa: E402
from training.model_setup import BuiltModel  # noqa: E402
from training.trainer import BatchObserver, TrainData, save_trained, train  # noqa: E402

DEFAULT_MODELS = "aan_s,resnet18,mobilenet_v3_large,efficientnet_b0"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group()
    src.add_argument("--db", help="an Inspector project: its current labels and splits")
    src.add_argument("--manifest", help="CSV with path,label,split columns")
    p.add_argument("--n", type=int, default=2000, help="demo generator: number of images (70%% train, 30%% test)")
    p.add_argument("--noise", type=float, default=0.0, help="demo generator: fraction of wrong training labels")
    p.add_argument("--data-seed", type=int, default=11, help="demo generator seed (the demo itself uses 0)")
    p.add_argument("--defect-strength", type=float, default=1.0,
                   help="demo generator: scale of every defect (0.5: fainter, smaller ones, a harder family)")
    p.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated; aan_s[key=value;...] for variants")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seconds", type=float, default=None, help="instead of epochs: a training-time budget per model")
    p.add_argument("--batch", type=int, default=None, help="default: the recipe's")
    p.add_argument("--lr", type=float, default=None, help="default: the recipe's")
    p.add_argument("--lr-rule", choices=("none", "sqrt", "linear"), default=None)
    p.add_argument("--input-size", type=int, default=128)
    p.add_argument("--in-chans", type=int, choices=(1, 3), default=1)
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="any other recipe setting, e.g. optim.ema=false or data.augment.rotate_deg=20 (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", metavar="FILE", help="also write every row and curve as JSON (with each model's "
                   "per-class test recall and the indices of the test images it got wrong)")
    p.add_argument("--save", metavar="DIR", help="also save each trained Inspector model (not the peers) as a "
                   "checkpoint in DIR")
    p.add_argument("--report", nargs="+", metavar="JSON", help="print one table from the --json files of runs "
                   "made side by side with the same data and settings (one process per core), and exit")
    return p.parse_args(argv)


# --- data --------------------------------------------------------------------------------------


def load_data(args) -> tuple[TrainData, MemorySource, str]:
    """(train data, test split, description), decoded once and shared by every model."""
    chans, size = args.in_chans, args.input_size
    if args.db:
        rows = _project_rows(args.db)
        what = f"project {args.db}"
    elif args.manifest:
        rows = _manifest_rows(args.manifest)
        what = f"manifest {args.manifest}"
    else:
        rows = _demo_rows(args.n, args.noise, args.data_seed, args.defect_strength)
        what = f"demo generator, {args.n} images, seed {args.data_seed}, noise {args.noise}" + (
            f", defect strength {args.defect_strength}" if args.defect_strength != 1.0 else "")
    classes = sorted({label for _, label, split in rows if split != "test"})
    index = {c: i for i, c in enumerate(classes)}
    train_rows = [Sample(p, index[label]) for p, label, split in rows if split != "test"]
    test_rows = [Sample(p, index[label]) for p, label, split in rows if split == "test" and label in index]
    if not test_rows:
        sys.exit("learning.py: no test split to score on")
    train_src = MemorySource.decode(train_rows, chans, size)
    test_src = MemorySource.decode(test_rows, chans, size)
    return TrainData(train=train_src, class_names=classes), test_src, what


def _demo_rows(n: int, noise: float, seed: int, strength: float = 1.0) -> list[tuple[str, str, str]]:
    from core.data.demo import make_demo_dataset, plan_demo_dataset

    name = f"demo-{n}-{noise}-{seed}" + (f"-strength{strength}" if strength != 1.0 else "")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "inspector" / "bench" / name
    root = cache / "metal_plate"
    if not root.exists():
        make_demo_dataset(cache, n=n, noise=noise, seed=seed, strength=strength)
    return [(str(root / it.rel_path), it.given_label, it.split) for it in plan_demo_dataset(n, noise, seed)]


def _project_rows(db: str) -> list[tuple[str, str, str]]:
    from core.store.project import open_project
    from core.store.queries import ImageFilter, all_images

    with open_project(db, create=False) as project, project.session() as s:
        return [(r.abs_path, r.label, r.split or "train") for r in all_images(s, ImageFilter(readable=True))
                if r.label is not None]


def _manifest_rows(path: str) -> list[tuple[str, str, str]]:
    import csv

    base = Path(path).parent
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        p = Path(r["path"])
        out.append((str(p if p.is_absolute() else base / p), r["label"].strip(), (r.get("split") or "train").strip()))
    return [r for r in out if r[1]]


# --- models ------------------------------------------------------------------------------------


def split_models(text: str) -> list[str]:
    """"aan_s,aan_s[depths=2,5]" -> ["aan_s", "aan_s[depths=2,5]"]: commas inside [...] stay."""
    specs, depth, start = [], 0, 0
    for i, ch in enumerate(text + ","):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            specs.append(text[start:i].strip())
            start = i + 1
    return [s for s in specs if s]


def parse_model(spec: str) -> tuple[str, dict]:
    """"aan_s" or "aan_s[pool=mean;layer_scale=0.1;depths=2,5]" -> (name, options)."""
    name, _, rest = spec.partition("[")
    options = {}
    for part in filter(None, rest.rstrip("]").split(";")):
        key, _, value = part.partition("=")
        options[key.strip()] = _value(value.strip())
    return name.strip(), options


def _value(text: str):
    """JSON, else a comma-separated list of JSON values ("2,5" -> [2, 5]), else the text itself."""
    for candidate in [text, f"[{text}]"] if "," in text else [text]:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            pass
    return text


def build(spec: str, data: TrainData, in_chans: int) -> BuiltModel:
    from core.model import create_model

    name, options = parse_model(spec)
    mean, std = pixel_stats(data.train.images)
    k = len(data.class_names)
    torch.manual_seed(0)
    if name in model_names():
        model = create_model(name, k, in_chans, **options)
        pool = model.config.pool
    elif name in PEERS:
        model, pool = peer_model(name, k, in_chans), None
    elif name.endswith(".safetensors"):  # fine-tuning from a start checkpoint (its head replaced)
        from training.model_setup import build_model

        start = TrainConfig(data=DataConfig(in_chans=in_chans), model=ModelConfig(base=name))
        return build_model(start, data.class_names)
    else:
        sys.exit(f"learning.py: unknown model {name!r} (Inspector: {', '.join(model_names())}; peers: {', '.join(PEERS)})")
    return BuiltModel(model, name, pool, mean, std, None, False)


def recipe(args) -> TrainConfig:
    cfg = TrainConfig(data=DataConfig(input_size=args.input_size, in_chans=args.in_chans, in_memory=True),
                      model=ModelConfig(), optim=OptimConfig(), schedule=ScheduleConfig(epochs=args.epochs),
                      run=RunConfig(seed=args.seed, trainer="bench.learning"))
    if args.batch:
        cfg.schedule = replace(cfg.schedule, batch_size=args.batch)
    if args.lr:
        cfg.optim = replace(cfg.optim, lr=args.lr)
    if args.lr_rule:
        cfg.optim = replace(cfg.optim, lr_rule=args.lr_rule)
    raw = cfg.to_dict()
    for item in args.set:
        key, _, value = item.partition("=")
        *path, leaf = key.split(".")
        node = raw
        for part in path:
            node = node[part]
        node[leaf] = _value(value)
    return TrainConfig.from_dict(raw, "--set")


class Curve(BatchObserver):
    def __init__(self, name: str):
        self.name = name
        self.points: list[dict] = []

    def on_epoch(self, epoch, metrics, train_seconds):
        self.points.append({"epoch": epoch + 1, "seconds": round(train_seconds, 2),
                            "cpu_seconds": round(metrics.get("train_cpu_seconds", 0.0), 2),
                            "test_acc": metrics.get("val_acc"), "test_balanced": metrics.get("val_balanced_acc"),
                            "train_acc": metrics.get("train_acc")})
        print(f"  {self.name}: epoch {epoch + 1} train {metrics.get('train_acc', 0):.3f} "
              f"test {metrics.get('val_acc', 0):.3f} ({train_seconds:.0f} s)", file=sys.stderr, flush=True)


def run_one(spec: str, args, data: TrainData, test: MemorySource) -> dict:
    cfg = recipe(args)
    built = build(spec, data, args.in_chans)
    if args.seconds:  # a time budget: the epochs this model manages in it, measured on a first epoch
        cfg = _epochs_for_budget(cfg, spec, args, data, built)
    curve = Curve(spec)
    result = train(cfg, data=TrainData(train=data.train, val=test, class_names=data.class_names), built=built,
                   observer=curve, reporter=Reporter())
    last = curve.points[-1]
    best = max(curve.points, key=lambda p: p["test_acc"])
    predicted = predict(result.model, test, result.built, args.input_size, args.in_chans)
    wrong = [i for i, (p, t) in enumerate(zip(predicted, test.targets)) if p != t]
    recall = per_class_recall(predicted, test.targets, data.class_names)
    if args.save and result.built.arch in model_names():  # a peer's weights are no Inspector model
        stem = Path(spec).name.removesuffix(".safetensors")
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)
        save_trained(Path(args.save) / f"{safe}.safetensors", result.model, result.built, cfg, data.class_names,
                     provenance={"bench": "bench/learning.py", "settings": settings_line(args)})
    return {"model": spec, "params": count_params(built.model), "epochs": cfg.schedule.epochs,
            "test_recall": recall, "test_errors": wrong, "test_acc": last["test_acc"],
            "test_balanced": last["test_balanced"], "best_test_acc": best["test_acc"],
            "best_epoch": best["epoch"], "train_acc": result.train_acc, "seconds": round(last["seconds"], 1),
            "cpu_seconds": round(last["cpu_seconds"], 1),
            "images_per_s": round(result.images_per_s, 1), "curve": curve.points}


@torch.inference_mode()
def predict(model: torch.nn.Module, test: MemorySource, built: BuiltModel, size: int, in_chans: int) -> list[int]:
    """The predicted class of every test image, in order (the exported model, eval mode)."""
    model.eval()
    prep = Preprocess(size, in_chans, built.mean, built.std)
    out: list[int] = []
    for xb, _, _ in test.batches(range(len(test)), 64, drop_last=False):
        out += model(prep.normalise(xb)).argmax(1).tolist()
    return out


def per_class_recall(predicted: list[int], targets: list[int], class_names: list[str]) -> dict[str, float | None]:
    """Recall of each class from the project's confusion matrix; None for a class with no test image."""
    cm = confusion_matrix(np.asarray(targets), np.asarray(predicted), len(class_names))
    support = cm.sum(1)
    return {name: round(float(cm[k, k] / support[k]), 4) if support[k] else None for k, name in enumerate(class_names)}


def _epochs_for_budget(cfg: TrainConfig, spec: str, args, data: TrainData, built: BuiltModel) -> TrainConfig:
    probe = TrainConfig.from_dict(cfg.to_dict())
    probe.schedule = replace(probe.schedule, epochs=1)
    t0 = time.perf_counter()
    train(probe, data=data, built=build(spec, data, args.in_chans))
    per_epoch = time.perf_counter() - t0
    cfg.schedule = replace(cfg.schedule, epochs=max(1, int(args.seconds / per_epoch)))
    return cfg


def time_to_reach(curve: list[dict], target: float) -> float | None:
    """CPU seconds of training until the test accuracy first reached `target` (None: never)."""
    return next((p["cpu_seconds"] for p in curve if p["test_acc"] >= target), None)


def report(rows: list[dict], what: str, settings: str) -> None:
    """Times are this process's CPU seconds of training (evaluation excluded): on a shared, noisy
    machine they hold still where wall time does not; wall seconds are printed beside them."""
    peers = [r for r in rows if parse_model(r["model"])[0] in PEERS]
    best_peer = max(peers, key=lambda r: r["test_acc"]) if peers else None
    print(f"\nbench/learning.py: {what}; {settings}; load average {os.getloadavg()[0]:.2f} at the end")
    if best_peer:
        print(f"best peer: {best_peer['model']} (final test accuracy {best_peer['test_acc']:.3f})")
    header = (f"| {'model':<28} | params | test acc | balanced | best (epoch) | train acc | CPU s | wall s | img/s |"
              f" to peer's acc CPU s | acc vs peer | CPU time vs peer |")
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for r in rows:
        reach = time_to_reach(r["curve"], best_peer["test_acc"]) if best_peer else None
        # "-" where there is nothing to compare with (no peer in the run, or the peer's accuracy never reached).
        acc_ratio = f"{r['test_acc'] / best_peer['test_acc']:.3f}" if best_peer and best_peer["test_acc"] else "-"
        time_ratio = f"{reach / best_peer['cpu_seconds']:.2f}" if best_peer and reach is not None else "-"
        print(f"| {r['model']:<28} | {r['params'] / 1e6:5.2f}M | {r['test_acc']:8.3f} | {r['test_balanced']:8.3f} |"
              f" {r['best_test_acc']:.3f} ({r['best_epoch']:>3}) | {r['train_acc']:9.3f} | {r['cpu_seconds']:5.0f} |"
              f" {r['seconds']:6.0f} | {r['images_per_s']:5.0f} | {reach if reach is not None else '-':>19} |"
              f" {acc_ratio:>11} | {time_ratio:>16} |")
    recalled = [r for r in rows if r.get("test_recall")]
    if recalled:  # which classes each model misses (JSON files of earlier runs have no recall)
        names = list(recalled[0]["test_recall"])
        print(f"\nper-class test recall\n| {'model':<28} | " + " | ".join(names) + " |")
        print(f"|{'-' * 30}|" + "|".join("-" * (len(n) + 2) for n in names) + "|")
        for r in recalled:
            cells = (r["test_recall"].get(n) for n in names)
            print(f"| {r['model']:<28} | " + " | ".join(f"{'-' if v is None else f'{v:.3f}':>{len(n)}}"
                                                      for n, v in zip(names, cells)) + " |")


def settings_line(args) -> str:
    return (f"{args.epochs} epochs, input {args.input_size} px, {args.in_chans} channel(s), seed {args.seed}, "
            f"{torch.get_num_threads()} threads")


def report_saved(paths: list[str]) -> None:
    """One table from the JSON files of runs made side by side (e.g. one process per core, with
    the same data and recipe): refused when their data or settings differ."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    first = runs[0]
    for path, run in zip(paths[1:], runs[1:]):
        for key in ("data", "settings"):
            if run.get(key) != first.get(key):
                sys.exit(f"learning.py: {path} was run with other {key} ({run.get(key)!r} vs {first.get(key)!r})")
    report([row for run in runs for row in run["rows"]], first["data"], first["settings"])


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.report:
        report_saved(args.report)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    data, test, what = load_data(args)
    rows = []
    for spec in split_models(args.models):
        rows.append(run_one(spec, args, data, test))
    settings = settings_line(args)
    report(rows, what, settings)
    if args.json:
        Path(args.json).write_text(json.dumps({"data": what, "settings": settings, "args": vars(args), "rows": rows},
                                              indent=2))


if __name__ == "__main__":
    main()
