"""How far a model version's explanation maps can be trusted, measured on the project's images and
kept with the model version (`inspector explain-eval`, the models panel, the attention panel)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.errors import InspectorError
from core.progress import Reporter, silent

if TYPE_CHECKING:
    from core.inference.faithfulness import MethodSummary
    from core.store.project import Project

KEY = "faithfulness"
DEFAULT_IMAGES = 200


@dataclass
class ExplanationReport:
    model_id: int
    images: int
    summaries: dict[str, MethodSummary]

    def to_dict(self) -> dict:
        from core.inference.attribution import DEFAULT_METHOD

        return {"model_id": self.model_id, "images": self.images, "default": DEFAULT_METHOD,
                "methods": {m: s.to_dict() for m, s in self.summaries.items()}}


def evaluate_model_explanations(project: Project, model_id: int, *, n: int = DEFAULT_IMAGES, seed: int = 0,
                                progress: Reporter | None = None) -> ExplanationReport:
    """Every method's faithfulness on up to `n` readable images (test split first, a seeded sample;
    defect images with masks also score the pointing game), saved with the model version."""
    from core.data.decode import load_image
    from core.inference.explain_eval import evaluate_explanations
    from core.inference.preprocess import Preprocess
    from core.model.checkpoint import load_checkpoint
    from core.store.model_versions import get_model_version, save_evaluation
    from core.store.queries import ImageFilter, all_images
    from usecases.prediction import attention_checkpoint

    progress = progress or silent()
    if n < 1:
        raise InspectorError("--n must be at least 1")
    with project.session() as s:
        record = get_model_version(s, model_id)
        images = all_images(s, ImageFilter(readable=True))
    checkpoint = attention_checkpoint(record)
    if checkpoint is None:
        raise InspectorError(f"model {model_id} is an ONNX export whose checkpoint is gone: nothing to explain with")
    if not images:
        raise InspectorError("the project has no readable images")
    rng = np.random.default_rng(seed)
    test = [r for r in images if r.split == "test"]
    pool = test if len(test) >= min(n, len(images)) else images
    chosen = [pool[i] for i in sorted(rng.choice(len(pool), size=min(n, len(pool)), replace=False))]
    model, meta = load_checkpoint(checkpoint)

    def pairs():
        for r in chosen:
            try:
                yield load_image(r.abs_path), (load_image(r.mask_path) if r.mask_path else None)
            except InspectorError:
                continue  # changed on disk since the import: not this measurement's business

    summaries = evaluate_explanations(model, Preprocess.from_meta(meta), pairs(), total=len(chosen), seed=seed,
                                      progress=progress)
    report = ExplanationReport(model_id, next(iter(summaries.values())).images, summaries)
    if not progress.cancelled:
        with project.session(write=True) as s:
            save_evaluation(s, model_id, KEY, report.to_dict())
    return report


def trust_message(record) -> str | None:
    """Plain words for the attention panel when the default map is no better than chance for this
    model version (None: not measured, or better than chance)."""
    from core.store.model_versions import evaluation

    ev = evaluation(record, KEY)
    if not ev:
        return None
    try:
        best = max(ev["methods"].values(), key=lambda m: m["ci_low"] if m["method"] != "random" else -1)
    except (KeyError, TypeError, ValueError, AttributeError):  # incomplete: the models panel says so
        return None
    if best["ci_low"] > 0.5:
        return None
    return (f"Careful: for this model no map here is better than chance at finding what the decision rests on "
            f"(best: {best['method']}, removing its top 10 % beats removing a random 10 % on "
            f"{best['better_than_random']:.0%} of {best['images']} images; 95 % interval reaches 50 %). "
            f"Read the maps as hints, not evidence.")


def faithfulness_line(record) -> str:
    """One line for the models panel: the default map against random, or how to measure it."""
    from core.store.model_versions import evaluation

    ev = evaluation(record, KEY)
    if not ev:
        return "Maps: not measured yet (`inspector explain-eval --db PROJECT.db --model ID`)."
    try:
        return _line(ev)
    except (KeyError, TypeError, ValueError, AttributeError):  # written by another version, or partial
        return "Maps: the stored measurement is incomplete; run `inspector explain-eval` again."


def _line(ev: dict) -> str:
    d, r = ev["methods"].get(ev["default"]), ev["methods"].get("random")
    if d is None or r is None:
        return "Maps: measured without the default method; run `inspector explain-eval` again."
    from core.inference.attribution import METHOD_TITLES

    verdict = "better than chance" if d["ci_low"] > 0.5 else "NOT better than chance"
    title = METHOD_TITLES.get(d["method"], d["method"]).split(" (")[0]
    return (f"Maps ({title}, {d['images']} images): removing the top 10 % beats a random 10 % on "
            f"{d['better_than_random']:.0%} [{d['ci_low']:.0%}–{d['ci_high']:.0%}], {verdict}; deletion AUC "
            f"{d['deletion_auc']:.2f} vs random {r['deletion_auc']:.2f}"
            + (f"; pointing game {d['pointing']:.0%}" if d.get("pointing") is not None else "") + ".")


def faithfulness_rows(record) -> list[tuple[str, str, str, str, str]]:
    """The models panel's table: per method (title, deletion AUC, insertion AUC, top-10 % share with
    its interval, pointing game); empty when not measured."""
    from core.inference.attribution import METHOD_TITLES
    from core.store.model_versions import evaluation

    ev = evaluation(record, KEY)
    if not ev:
        return []
    def num(m: dict, key: str, fmt: str) -> str:  # a stored evaluation may lack a field (older, partial)
        v = m.get(key)
        return "-" if v is None else format(v, fmt)

    methods = ev.get("methods") if isinstance(ev, dict) else None
    if not isinstance(methods, dict):
        return []
    rows = []
    for name, m in methods.items():
        if not isinstance(m, dict):
            continue
        title = METHOD_TITLES.get(name, name) + (" *" if name == ev.get("default") else "")
        share = num(m, "better_than_random", ".0%")
        if m.get("ci_low") is not None and m.get("ci_high") is not None:
            share += f" [{m['ci_low']:.0%}–{m['ci_high']:.0%}]"
        rows.append((title, num(m, "deletion_auc", ".3f"), num(m, "insertion_auc", ".3f"), share,
                     num(m, "pointing", ".2f")))
    return rows
