"""Review ranking and model comparison through the store, with predictions written by hand."""
import numpy as np
import pytest

from core.inference.compare import checkpoint_alphas, compare_models, model_metrics
from core.inference.review import latest_predicted_model, review_model
from core.store import predictions as store_predictions
from core.store.queries import ImageFilter, query_images


def _ids_by_path(project):
    with project.session() as s:
        return {r.rel_path: r.id for r in query_images(s, ImageFilter(), sort="id", limit=100)}


def _probs_for(ids_by_path, wrong: set[str]):
    """Confident and right for every image, except those in `wrong`: confident in the other class."""
    ids, probs = [], []
    for path, i in sorted(ids_by_path.items()):
        right = 0 if path.startswith("good/") else 1
        p = np.array([0.9, 0.1]) if right == 0 else np.array([0.1, 0.9])
        ids.append(i)
        probs.append(p[::-1] if path in wrong else p)
    return ids, np.array(probs)


def test_review_ranks_the_contradicted_label_first_and_saves_scores(small_project):
    project, model_id, _, _ = small_project
    paths = _ids_by_path(project)
    ids, probs = _probs_for(paths, wrong={"scratch/scratch_03.png"})
    with project.session() as s:
        store_predictions.save_predictions(s, model_id, ids, probs)
    with project.session() as s:
        assert latest_predicted_model(s) == model_id
        items = review_model(s, model_id)
    assert items[0].rel_path == "scratch/scratch_03.png" and items[0].reason == "label_issue"
    assert items[0].label == "scratch" and items[0].predicted == "good" and items[0].rank == 1
    with project.session() as s:
        flagged = query_images(s, ImageFilter(model_id=model_id, suspected=True), sort="-score")
    assert flagged[0].id == paths["scratch/scratch_03.png"] and flagged[0].reason == "label_issue"


def test_metrics_and_comparison_of_two_versions(small_project, tmp_path):
    import torch

    from core.model import create_model
    from core.model.checkpoint import read_metadata, save_checkpoint
    from core.store.model_versions import register_model_version

    project, model_a, _, ckpt_a = small_project
    meta = read_metadata(ckpt_a)
    model = create_model("aan_t", 2, in_chans=1)
    with torch.no_grad():
        model.alphas()[0][1] = 0.25
    ckpt_b = save_checkpoint(tmp_path / "b.safetensors", model, meta)
    with project.session() as s:
        model_b = register_model_version(s, str(ckpt_b), meta)
    paths = _ids_by_path(project)
    with project.session() as s:
        store_predictions.save_predictions(s, model_a, *_probs_for(paths, {"good/good_00.png", "good/good_01.png"}))
        store_predictions.save_predictions(s, model_b, *_probs_for(paths, {"good/good_01.png", "scratch/scratch_05.png"}))
    with project.session() as s:
        m = model_metrics(s, model_a)
        cmp = compare_models(s, model_a, model_b)
    assert m.n == 12 and m.accuracy == pytest.approx(10 / 12)
    assert cmp.n == 12 and cmp.metrics_b.accuracy == pytest.approx(10 / 12)
    assert sorted(i for i, _, _ in cmp.changed) == sorted([paths["good/good_00.png"], paths["scratch/scratch_05.png"]])
    assert cmp.fixed == [paths["good/good_00.png"]] and cmp.broken == [paths["scratch/scratch_05.png"]]
    delta = cmp.alpha_change
    assert delta is not None and delta[0][1] == pytest.approx(0.25 - 1.0) and np.count_nonzero(np.concatenate(delta)) == 1
    assert len(checkpoint_alphas(str(ckpt_b))) == len(model.alphas())


def test_metrics_aggregated_in_the_database_equal_the_numpy_ones_on_current_labels(small_project):
    from core.inference.metrics import compute_metrics
    from core.inference.ranking import UNLABELED
    from core.inference.review import labels_for
    from core.store.labels import set_label

    project, model_id, _, _ = small_project
    paths = _ids_by_path(project)
    ids = sorted(paths.values())
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([0.7, 0.7], size=len(ids)).astype(np.float32)
    probs[0] = [0.5, 0.5]  # a tie, and a confidence exactly on a bin edge
    probs[1] = [1.0, 0.0]
    with project.session() as s:
        store_predictions.save_predictions(s, model_id, ids, probs)
        set_label(s, ids[2], "scratch" if "good" in _path_of(paths, ids[2]) else "good", user="ann")
        set_label(s, ids[3], None, user="ann")
    with project.session() as s:
        from_db = model_metrics(s, model_id)
        stored_ids, stored = store_predictions.load_predictions(s, model_id)
        labels, _ = labels_for(s, [int(i) for i in stored_ids], ["good", "scratch"])
    keep = labels != UNLABELED
    reference = compute_metrics(labels[keep], stored[keep], ["good", "scratch"])
    assert from_db.n == reference.n == len(ids) - 1
    assert np.array_equal(from_db.confusion, reference.confusion)
    assert from_db.accuracy == reference.accuracy and from_db.ece == pytest.approx(reference.ece, abs=1e-12)
    assert [c.f1 for c in from_db.per_class] == pytest.approx([c.f1 for c in reference.per_class], nan_ok=True)


def _path_of(paths, image_id):
    return next(p for p, i in paths.items() if i == image_id)
