"""How far each explanation map can be trusted, on the demo data with its defect masks.

The shipped demo model on the held-out test split of a freshly generated demo (the model was
trained on another seed's images): for each method (gradient-weighted relevance, α-weighted and
plain rollout, the last layer's attention, a seeded random map), deletion and insertion AUC
(5 % steps, removed pixels replaced by the blurred image), the share of images where removing the
map's top 10 % drops the predicted class's probability more than removing a random 10 % (Wilson
95 % interval), pointing game and top-10 % IoU on defect images, and each map's cost. Then the
cost of the default map for one shown image of aan_s at 224x224x3, the panel's worst case.

    python bench/explanations.py [--n 148] [--threads 2] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.inference.attribution import DEFAULT_METHOD, METHOD_TITLES, relevance  # noqa: E402
from core.inference.faithfulness import MIN_EFFECT  # noqa: E402
from core.model import create_model  # noqa: E402

DEMO_MODEL = ROOT / "assets" / "demo_aan_s.safetensors"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=148, help="test images (the demo's test split has 148)")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--json", metavar="OUT.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from core.store.project import open_project
    from usecases.dataset_import import import_dataset
    from usecases.demo_project import write_demo_dataset
    from usecases.explanation_eval import evaluate_model_explanations
    from usecases.prediction import register_checkpoint

    with tempfile.TemporaryDirectory(prefix="inspector-explain-bench-") as tmp:
        data = write_demo_dataset(Path(tmp) / "demo", 500, seed=0)
        import_dataset(Path(tmp) / "demo.db", data.root)
        with open_project(Path(tmp) / "demo.db", create=False) as project:
            model_id = register_checkpoint(project, DEMO_MODEL)
            t0 = time.perf_counter()
            report = evaluate_model_explanations(project, model_id, n=args.n)
            seconds = time.perf_counter() - t0
    s = report.summaries
    rnd = s["random"]
    print(f"demo test split: {report.images} images ({s[DEFAULT_METHOD].masked_images} with a defect mask), "
          f"shipped demo model, {args.threads} threads, {seconds:.0f} s, load {os.getloadavg()[0]:.1f}")
    print(f"{'method (* = default)':<44}{'deletion':>9}{'/random':>8}{'insertion':>10}{'top10 > random':>20}"
          f"{'(strict)':>9}{'pointing':>9}{'IoU':>6}{'ms':>6}")
    for name, m in s.items():
        star = " *" if name == DEFAULT_METHOD else ""
        share = f"{m.better_than_random:.0%} [{m.ci_low:.0%},{m.ci_high:.0%}]"
        point = "-" if m.pointing is None else f"{m.pointing:.2f}"
        iou = "-" if m.iou is None else f"{m.iou:.2f}"
        print(f"{METHOD_TITLES[name] + star:<44}{m.deletion_auc:>9.3f}{m.deletion_auc / rnd.deletion_auc:>8.2f}"
              f"{m.insertion_auc:>10.3f}{share:>20}{m.better_strict:>9.0%}{point:>9}{iou:>6}{m.ms_per_image:>6.0f}")
    d = s[DEFAULT_METHOD]
    print(f"\n'top10 > random': the top-10 % removal drops the probability at least {MIN_EFFECT:.0%} more than a random "
          f"10 % (the warning's measure; 'strict': any larger drop)")
    print(f"targets: top-10 % beats random on >= 80 % of images: {d.better_strict:.0%} strict, "
          f"{d.better_than_random:.0%} with the margin; "
          f"deletion AUC <= 0.6x random's: {d.deletion_auc / rnd.deletion_auc:.2f}x; "
          f"pointing game >= 0.8 on defect images: {d.pointing:.2f}")

    torch.manual_seed(0)
    big = create_model("aan_s", 5, 3).eval()
    x = torch.randn(1, 3, 224, 224)
    relevance(big, x)  # warm-up
    times = []
    for _ in range(10):
        t = time.perf_counter()
        relevance(big, x)
        times.append(time.perf_counter() - t)
    print(f"default map for one shown image, aan_s 224x224x3: {1e3 * np.median(times):.0f} ms median of 10 "
          f"(target <= 150 ms on 2 cores); on the demo model (128 px gray): {d.ms_per_image:.0f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps({"report": report.to_dict(), "relevance_224_ms": 1e3 * float(np.median(times))},
                                              indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
