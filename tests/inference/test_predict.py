"""Prediction over a real project: one row per readable image, resumable, survives a bad file."""
import numpy as np
import pytest

from core.inference.predict import predict_project, resolve_device
from core.progress import Reporter
from core.store import predictions as store_predictions


def _rows(project, model_id):
    with project.session() as s:
        return store_predictions.load_predictions(s, model_id)


@pytest.mark.parametrize("workers", [0, 1])
def test_predicts_each_image_once_then_resumes(small_project, workers):
    project, model_id, _, _ = small_project
    seen = []
    report = predict_project(project, model_id, device="cpu", batch_size=5, num_workers=workers,
                             progress=Reporter(lambda d, t, _m: seen.append((d, t))))
    assert (report.total, report.predicted, report.already, report.unreadable) == (12, 12, 0, 0)
    ids, probs = _rows(project, model_id)
    assert len(ids) == len(set(ids.tolist())) == 12
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert seen[0] == (0, 12) and seen[-1] == (12, 12)
    again = predict_project(project, model_id, device="cpu", num_workers=workers)
    assert (again.predicted, again.already) == (0, 12)
    assert len(_rows(project, model_id)[0]) == 12


def test_summary_columns(small_project):
    from sqlalchemy import select

    from core.store.schema import Prediction

    project, model_id, _, _ = small_project
    predict_project(project, model_id, device="cpu", num_workers=0)
    with project.session() as s:
        row = s.execute(select(Prediction).limit(1)).scalar_one()
        probs = np.frombuffer(row.probs, dtype="<f4")
        assert row.top_index == probs.argmax() and row.confidence == pytest.approx(probs.max())
        assert row.margin == pytest.approx(np.sort(probs)[-1] - np.sort(probs)[-2], abs=1e-6)


def test_unreadable_image_is_skipped_and_counted(small_project):
    project, model_id, data, _ = small_project
    victim = sorted((data / "scratch").glob("*.png"))[0]
    victim.write_bytes(victim.read_bytes()[:60])  # truncated after the scan said it was fine
    report = predict_project(project, model_id, device="cpu", batch_size=4, num_workers=1)
    assert (report.predicted, report.unreadable) == (11, 1)
    with project.session() as s:
        from core.store.queries import get_image

        victim_id = get_image(s, "scratch/scratch_00.png").id
    assert report.errors[0][0] == victim_id and "truncated" in report.errors[0][1]
    assert len(_rows(project, model_id)[0]) == 11
    # Next run tries the bad one again (it may have been fixed), and only that one.
    again = predict_project(project, model_id, device="cpu", num_workers=0)
    assert (again.predicted, again.unreadable, again.already) == (0, 1, 11)


def test_cancel_keeps_what_was_done(small_project):
    project, model_id, _, _ = small_project
    def on_progress(done, total, _message):
        if done >= 4:
            progress.cancel()

    progress = Reporter(on_progress)
    report = predict_project(project, model_id, device="cpu", batch_size=4, num_workers=0, progress=progress)
    assert report.cancelled and report.predicted == 4
    rest = predict_project(project, model_id, device="cpu", num_workers=0)
    assert (rest.predicted, rest.already, rest.cancelled) == (8, 4, False)


def test_unknown_device_is_a_user_error():
    from core.errors import InspectorError

    with pytest.raises(InspectorError):
        resolve_device("tpu")
    assert resolve_device("cpu").type == "cpu"
