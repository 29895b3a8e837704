"""`inspector explain-eval`: how far each explanation map of a model version can be trusted."""
from __future__ import annotations

import argparse
import json

from app.cli.project_option import add_db_option, open_db


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain-eval", help="faithfulness of the attention maps of a model version (deletion, insertion, "
                                            "top-10%% vs random, pointing game)",
                       description="For each method (gradient-weighted relevance, rollout with and without alphas, "
                                   "the last layer's attention, a random baseline): remove the map's most relevant "
                                   "pixels in 5%% steps (replaced by the blurred image) and watch the predicted "
                                   "class's probability. Saved with the model version: the GUI shows it, and warns "
                                   "when no map beats chance.")
    add_db_option(p)
    p.add_argument("--model", default=None, metavar="ID|CKPT",
                   help="model version id, or a checkpoint (registered if new); default: the newest version")
    p.add_argument("--n", type=int, default=None, metavar="N", help="images (default 200; test split first)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=explain_eval)


def explain_eval(args: argparse.Namespace) -> int:
    from app.cli.progress_line import cli_reporter
    from core.errors import InspectorError
    from core.inference.attribution import DEFAULT_METHOD, METHOD_TITLES
    from core.store.model_versions import list_model_versions
    from usecases.explanation_eval import DEFAULT_IMAGES, evaluate_model_explanations
    from usecases.prediction import register_checkpoint

    with open_db(args) as project:
        if args.model is None:
            with project.session() as s:
                versions = list_model_versions(s)
            if not versions:
                raise InspectorError("the project has no model version: give --model CKPT")
            model_id = versions[-1].id
        elif args.model.isdigit():
            model_id = int(args.model)
        else:
            model_id = register_checkpoint(project, args.model)
        report = evaluate_model_explanations(project, model_id, n=args.n or DEFAULT_IMAGES, progress=cli_reporter())
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    print(f"model {model_id}: {report.images} images; lower deletion AUC and higher insertion AUC = more faithful")
    print(f"{'method (* = the panel default)':<46}{'deletion':>9}{'insertion':>10}{'top10 > random':>22}{'pointing':>10}{'ms':>7}")
    for name, s in report.summaries.items():
        star = " *" if name == DEFAULT_METHOD else ""
        point = "-" if s.pointing is None else f"{s.pointing:.2f}"
        share = f"{s.better_than_random:.0%} [{s.ci_low:.0%}, {s.ci_high:.0%}]"
        print(f"{METHOD_TITLES[name] + star:<46}{s.deletion_auc:>9.3f}{s.insertion_auc:>10.3f}{share:>22}{point:>10}"
              f"{s.ms_per_image:>7.0f}")
    default = report.summaries.get(DEFAULT_METHOD)
    if default is not None and not default.trustworthy:
        print("warning: the default map is no better than chance for this model (its interval reaches 50 %)")
    return 0
