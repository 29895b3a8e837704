"""query_images / count_images: every filter, sort orders, stable pagination, records' fields."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from core.errors import InspectorError
from core.store import UnknownClass
from core.store.datasets import relocate_dataset
from core.store.labels import set_label
from core.store.model_versions import register_model_version
from core.store.predictions import save_predictions, save_review_scores
from core.store.queries import ImageFilter, count_images, get_image, query_images

CLASSES = ["good", "scratch", "dent"]


@pytest.fixture
def predicted(loaded):
    """loaded + model 1 predicting: image i -> class (i % 3) with confidence 0.4 + 0.04 * i."""
    with loaded.session() as s:
        ids = [r.id for r in query_images(s, sort="id")]
        model_id = register_model_version(s, "/models/m1.safetensors", {"arch": "aan_s", "class_names": CLASSES})
        probs = np.zeros((len(ids), 3), np.float32)
        for k, iid in enumerate(ids):
            conf = 0.4 + 0.04 * k
            probs[k] = (1 - conf) / 2
            probs[k, k % 3] = conf
        save_predictions(s, model_id, ids, probs)
        save_review_scores(s, model_id, [(ids[0], 0.9, "label_issue"), (ids[4], 0.95, "label_issue"),
                                         (ids[7], 0.1, "label_issue"), (ids[9], 0.99, "low_confidence")])
    return loaded, model_id, ids


def _paths(records):
    return [r.rel_path for r in records]


def test_default_query_sorted_by_name_with_full_records(loaded, tmp_path):
    with loaded.session() as s:
        recs = query_images(s)
    assert _paths(recs) == sorted(_paths(recs)) and len(recs) == 15
    r = recs[0]
    assert r.rel_path == "dent/000.png" and r.label == "dent" and r.split == "test"
    assert r.abs_path == str((tmp_path / "data" / "dent" / "000.png").resolve())
    assert (r.width, r.height, r.channels, r.readable, r.label_version) == (32, 32, 3, True, 1)
    assert r.predicted is None and r.confidence is None


def test_filters_by_label_split_and_unlabeled(loaded):
    with loaded.session() as s:
        set_label(s, get_image(s, "good/001.png").id, None, user="ann")
        assert _paths(query_images(s, ImageFilter(labels=["scratch"]), limit=2)) == ["scratch/000.png", "scratch/001.png"]
        assert count_images(s, ImageFilter(labels=["scratch", "dent"])) == 10
        assert _paths(query_images(s, ImageFilter(unlabeled=True))) == ["good/001.png"]
        assert count_images(s, ImageFilter(labels=["good"], unlabeled=True)) == 5
        assert count_images(s, ImageFilter(splits=["test"])) == 3
        assert count_images(s, ImageFilter(splits=["test"], labels=["good"])) == 1
        with pytest.raises(UnknownClass):
            query_images(s, ImageFilter(labels=["crack"]))


def test_pagination_is_stable_and_complete(loaded):
    with loaded.session() as s:
        for sort in ("name", "-name", "id"):
            full = _paths(query_images(s, sort=sort))
            pages = [_paths(query_images(s, sort=sort, offset=o, limit=4)) for o in range(0, 16, 4)]
            assert sum(pages, []) == full


def test_prediction_filters_and_sorts(predicted):
    project, model_id, ids = predicted
    with project.session() as s:
        recs = query_images(s, ImageFilter(model_id=model_id, predicted=["scratch"]), sort="-confidence")
        assert [r.predicted for r in recs] == ["scratch"] * 5
        assert [r.confidence for r in recs] == sorted((r.confidence for r in recs), reverse=True)
        band = query_images(s, ImageFilter(model_id=model_id, min_confidence=0.5, max_confidence=0.61), sort="confidence")
        assert [round(r.confidence, 2) for r in band] == [0.52, 0.56, 0.6]
        # ids in import order: good 0-4, scratch 5-9, dent 10-14; predicted class = id % 3 agrees 5 times
        disagree = query_images(s, ImageFilter(model_id=model_id, disagree=True), sort="id")
        assert all(r.label != r.predicted for r in disagree)
        assert len(disagree) == count_images(s, ImageFilter(model_id=model_id, disagree=True)) == 10
        by_name = query_images(s, ImageFilter(model_id=model_id, disagree=True), sort="name")
        assert _paths(by_name) == sorted(_paths(disagree))
        # Correcting a label to the prediction ends the disagreement; relabelling starts one.
        set_label(s, disagree[0].id, disagree[0].predicted, user="ann")
        agreeing = next(r for r in query_images(s, ImageFilter(model_id=model_id), sort="id") if r.label == r.predicted
                        and r.id != disagree[0].id)
        set_label(s, agreeing.id, next(c for c in CLASSES if c != agreeing.label), user="ann")
        now = {r.id for r in query_images(s, ImageFilter(model_id=model_id, disagree=True))}
        assert disagree[0].id not in now and agreeing.id in now and len(now) == 10
        suspects = query_images(s, ImageFilter(model_id=model_id, suspected=True), sort="-score")
        assert [r.id for r in suspects] == [ids[4], ids[0], ids[7]]  # label issues only: not ids[9]'s doubt
        assert suspects[0].reason == "label_issue" and suspects[0].score == pytest.approx(0.95)
        ranked = query_images(s, ImageFilter(model_id=model_id), sort="-score")
        assert [r.id for r in ranked] == [ids[9], ids[4], ids[0], ids[7]]  # sorting by score: every reason
        unranked = query_images(s, ImageFilter(model_id=model_id, lacks="score"))
        assert {r.id for r in unranked}.isdisjoint({ids[0], ids[4], ids[7], ids[9]})
        assert len(unranked) == count_images(s, ImageFilter()) - 4
        with pytest.raises(InspectorError, match="needs a model"):
            query_images(s, ImageFilter(suspected=True))


def test_changed_by_and_since(loaded):
    with loaded.session() as s:
        start = datetime.now(timezone.utc) - timedelta(seconds=1)
        set_label(s, get_image(s, "dent/003.png").id, "good", user="ann")
        set_label(s, get_image(s, "good/003.png").id, "dent", user="bob")
        assert _paths(query_images(s, ImageFilter(changed_by="ann"))) == ["dent/003.png"]
        assert query_images(s, ImageFilter(changed_by="importer")) == []  # imports are not "changes by"
        future = datetime.now(timezone.utc) + timedelta(hours=1)
        assert count_images(s, ImageFilter(changed_since=future)) == 0
        assert count_images(s, ImageFilter(changed_since=start)) == 15  # the import counts as a change


def test_get_image_by_id_relative_and_absolute_path(loaded, tmp_path):
    with loaded.session() as s:
        rec = get_image(s, "scratch/004.png")
        assert get_image(s, rec.id) == rec == get_image(s, str(rec.id))
        assert get_image(s, rec.abs_path) == rec
        with pytest.raises(InspectorError, match="no image 'nope.png'"):
            get_image(s, "nope.png")


def test_relocate_dataset_moves_every_abs_path(loaded, tmp_path):
    new_root = tmp_path / "moved"
    new_root.mkdir()
    with loaded.session() as s:
        relocate_dataset(s, new_root)
    with loaded.session() as s:
        rec = get_image(s, "good/000.png")
        assert rec.abs_path == str(new_root.resolve() / "good" / "000.png")
        with pytest.raises(InspectorError, match="not a folder"):
            relocate_dataset(s, tmp_path / "absent")


def test_keyset_pages_equal_offset_pages(predicted):
    project, model_id, _ = predicted
    cases = [(ImageFilter(), "name"), (ImageFilter(), "-name"), (ImageFilter(labels=["good", "dent"]), "-id"),
             (ImageFilter(model_id=model_id), "-confidence"), (ImageFilter(model_id=model_id, predicted=["good"]), "name"),
             (ImageFilter(model_id=model_id, suspected=True), "-score")]
    with project.session() as s:
        for flt, sort in cases:
            full = query_images(s, flt, sort=sort)
            pages, last = [], None
            while True:
                page = query_images(s, flt, sort=sort, limit=2, after=last)
                if not page:
                    break
                pages += page
                last = page[-1]
            assert [r.id for r in pages] == [r.id for r in full], (flt, sort)


def test_predicted_filter_sorted_by_name_matches_image_names(predicted):
    project, model_id, _ = predicted
    with project.session() as s:
        recs = query_images(s, ImageFilter(model_id=model_id, predicted=["scratch", "dent"]), sort="name")
        assert _paths(recs) == sorted(_paths(recs)) and len(recs) == 10


def test_missing_images_leave_prediction_driven_queries(predicted, tmp_path, small_scan):
    from core.store.ingest import import_scan
    project, model_id, _ = predicted
    flt = ImageFilter(model_id=model_id, disagree=True)
    with project.session() as s:
        before = query_images(s, flt, sort="-confidence")
        gone = before[0]
        scan = small_scan(tmp_path / "data")
        scan.images = [im for im in scan.images if im.rel_path != gone.rel_path]
        assert import_scan(s, scan, user="importer").missing == 1
    with project.session() as s:
        cases = [(flt, "-confidence"), (flt, "name"), (ImageFilter(model_id=model_id, min_confidence=0.0), "-confidence"),
                 (ImageFilter(model_id=model_id, suspected=True), "-score")]
        for f, sort in cases:
            ids = [r.id for r in query_images(s, f, sort=sort)]
            assert gone.id not in ids and len(ids) == count_images(s, f), (f, sort)
        assert count_images(s, flt) == len(before) - 1
        assert count_images(s, ImageFilter(model_id=model_id, disagree=True, include_missing=True)) == len(before)


def test_big_fetch_path_gives_the_same_records(predicted, monkeypatch):
    import core.store.queries as queries
    project, model_id, _ = predicted
    cases = [(ImageFilter(), "-name", 0), (ImageFilter(model_id=model_id), "-confidence", 2),
             (ImageFilter(labels=["good", "dent"]), "id", 3)]
    with project.session() as s:
        expected = [query_images(s, f, sort=sort, offset=off, limit=8) for f, sort, off in cases]
        monkeypatch.setattr(queries, "BIG_FETCH", 3)
        assert [query_images(s, f, sort=sort, offset=off, limit=8) for f, sort, off in cases] == expected
