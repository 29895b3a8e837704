"""Model versions, predictions round trip, review scores, label snapshots, job records."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import InspectorError
from core.model.checkpoint import CheckpointMeta
from core.store import NotFound
from core.store.jobs import create_job, get_job, list_jobs, update_job
from core.store.labels import set_label
from core.store.model_versions import get_model_version, list_model_versions, register_model_version
from core.store.predictions import load_predictions, predicted_image_ids, save_predictions, save_review_scores
from core.store.queries import get_image, query_images
from core.store.snapshots import get_snapshot, list_snapshots, take_snapshot, write_manifest

CLASSES = ["good", "scratch", "dent"]


def test_register_models_with_parent_and_snapshot(loaded):
    with loaded.session() as s:
        snap = take_snapshot(s)
        base = register_model_version(s, "/m/base.safetensors", CheckpointMeta(arch="aan_s", class_names=CLASSES))
        child = register_model_version(s, "/m/ft1.safetensors", {"arch": "aan_s", "class_names": CLASSES, "epochs": 3},
                               parent_id=base, snapshot_id=snap.id, name="fine-tune 1")
        assert register_model_version(s, "/m/base.safetensors", {"arch": "aan_s", "class_names": CLASSES}) == base
        rec = get_model_version(s, child)
        assert (rec.name, rec.parent_id, rec.snapshot_id, rec.class_names) == ("fine-tune 1", base, snap.id, CLASSES)
        assert rec.meta["epochs"] == 3 and get_model_version(s, base).meta["input_size"] == 224
        assert [m.id for m in list_model_versions(s)] == [base, child]
        with pytest.raises(NotFound):
            register_model_version(s, "/m/x.safetensors", {"arch": "aan_s", "class_names": CLASSES}, parent_id=99)
        with pytest.raises(InspectorError, match="arch and class_names"):
            register_model_version(s, "/m/y.safetensors", {"arch": "aan_s"})


def test_predictions_round_trip_and_replace(loaded):
    with loaded.session() as s:
        ids = [r.id for r in query_images(s, sort="id")]
        mid = register_model_version(s, "/m/a.safetensors", {"arch": "aan_s", "class_names": CLASSES})
        probs = np.random.default_rng(0).dirichlet(np.ones(3), size=len(ids)).astype(np.float32)
        save_predictions(s, mid, ids, probs)
        save_predictions(s, mid, ids[:2], probs[:2][:, ::-1])  # re-predicting replaces
        got_ids, got = load_predictions(s, mid)
        assert got_ids.tolist() == ids and got.dtype == np.float32
        np.testing.assert_array_equal(got[:2], probs[:2][:, ::-1])
        np.testing.assert_array_equal(got[2:], probs[2:])
        assert predicted_image_ids(s, mid) == set(ids)
        rec = get_image(s, ids[3], model_id=mid)
        assert rec.predicted == CLASSES[int(probs[3].argmax())] and rec.confidence == pytest.approx(probs[3].max())
        with pytest.raises(InspectorError, match="do not match"):
            save_predictions(s, mid, ids, probs[:, :2])
        save_review_scores(s, mid, [{"image_id": ids[0], "score": 0.5, "reason": "r"}])
        save_review_scores(s, mid, [(ids[1], 0.7)])  # replaces the model's whole ranking
        assert get_image(s, ids[0], model_id=mid).score is None
        assert get_image(s, ids[1], model_id=mid).score == pytest.approx(0.7)


def test_snapshot_freezes_labels_and_draws_a_deterministic_stratified_val(loaded):
    with loaded.session() as s:
        first = take_snapshot(s, seed=7, val_fraction=0.25)
        set_label(s, get_image(s, "good/001.png").id, "dent", user="ann")  # after the snapshot
    with loaded.session() as s:
        again = take_snapshot(s, seed=7, val_fraction=0.25)
        frozen = get_snapshot(s, first.id)
    assert first.generated_val and first.count == 15 and first.class_names == CLASSES
    assert frozen.rows == first.rows  # later corrections do not leak in
    assert again.event_position == first.event_position + 1
    good_row = next(r for r in frozen.rows if r.abs_path.endswith("001.png") and "/good/" in r.abs_path)
    assert good_row.label == "good"
    # every class with 4 non-test images gives exactly one to val; test images stay test
    by = {(r.label, r.split) for r in first.rows}
    assert all((c, "val") in by for c in CLASSES)
    assert first.split_counts == {"train": 9, "val": 3, "test": 3}
    with loaded.session() as s:
        same_seed = take_snapshot(s, seed=7, val_fraction=0.25)
        other_seed = take_snapshot(s, seed=8, val_fraction=0.25)
        # images' own splits were not touched
        assert {r.split for r in query_images(s)} == {"train", "test"}
    val = lambda snap: {r.image_id for r in snap.rows if r.split == "val"}  # noqa: E731
    assert val(same_seed) == val(again)
    assert len(val(other_seed)) == len(val(again))
    with loaded.session() as s:
        assert [x.count for x in list_snapshots(s)] == [15, 15, 15, 15]


def test_snapshot_keeps_existing_val_split(project, tmp_path, make_scan, scanned):
    from core.store.ingest import import_scan
    with project.session() as s:
        import_scan(s, make_scan(tmp_path / "d", [scanned("a.png", "good", split="train"),
                                                  scanned("b.png", "good", split="val"),
                                                  scanned("c.png", None, split="train"),
                                                  scanned("d.png", "good", error="broken")]), user="u")
        snap = take_snapshot(s)
    assert not snap.generated_val
    assert sorted((r.abs_path.rsplit("/", 1)[1], r.split) for r in snap.rows) == [("a.png", "train"), ("b.png", "val")]
    out = write_manifest(snap, tmp_path / "m" / "manifest.csv")
    assert out.read_text().splitlines()[0] == "abs_path,label,split,content_hash,image_id"


def test_job_lifecycle(loaded):
    with loaded.session() as s:
        snap = take_snapshot(s)
        mid = register_model_version(s, "/m/base.safetensors", {"arch": "aan_s", "class_names": CLASSES})
        job = create_job(s, backend="slurm", profile="8gpu", config={"epochs": 3}, snapshot_id=snap.id,
                         base_model_id=mid, command="#!/bin/bash\nsrun torchrun ...", workdir="/runs/1")
        assert (job.state, job.config, job.finished) == ("queued", {"epochs": 3}, False)
        job = update_job(s, job.id, state="running", external_id="4242")
        assert job.external_id == "4242" and job.updated >= job.created
        result = register_model_version(s, "/runs/1/best.safetensors", {"arch": "aan_s", "class_names": CLASSES},
                                parent_id=mid, snapshot_id=snap.id)
        job = update_job(s, job.id, state="succeeded", result_model_id=result, log_tail="x" * 50_000)
        assert job.finished and len(job.log_tail) == 20_000
        with pytest.raises(InspectorError, match="already succeeded"):
            update_job(s, job.id, state="running")
        with pytest.raises(InspectorError, match="job state must be"):
            create_job(s, backend="local", state="paused")
        with pytest.raises(InspectorError, match="unknown field"):
            update_job(s, job.id, colour="red")
        other = create_job(s, backend="local")
        assert [j.id for j in list_jobs(s)] == [other.id, job.id]
        assert [j.id for j in list_jobs(s, states=["succeeded"])] == [job.id]
    with loaded.session() as s:
        assert get_job(s, job.id).result_model_id == result
        with pytest.raises(NotFound):
            get_job(s, 999)
