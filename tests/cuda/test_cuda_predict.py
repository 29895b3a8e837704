"""Prediction of a project on CUDA (bf16 autocast, channels_last, pinned uint8 batches from worker
processes) gives the CPU's top-1."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.cuda


def test_project_prediction_on_cuda_matches_cpu_top1(accel, two_model_project):
    from core.inference.predict import predict_project
    from core.store.predictions import load_predictions

    project, (cpu_id, dev_id) = two_model_project
    cpu = predict_project(project, cpu_id, device="cpu", batch_size=5, num_workers=0)
    dev = predict_project(project, dev_id, device=accel.type, batch_size=5, num_workers=1)
    assert (cpu.predicted, dev.predicted, dev.unreadable) == (16, 16, 0)
    assert dev.device.startswith(accel.type)
    with project.session() as s:
        ids_cpu, p_cpu = load_predictions(s, cpu_id)
        ids_dev, p_dev = load_predictions(s, dev_id)
    assert ids_cpu.tolist() == ids_dev.tolist()
    np.testing.assert_allclose(p_dev.sum(1), 1.0, atol=1e-5)
    top2 = np.sort(p_cpu, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 0.1  # bf16 may flip a near tie; never a clear decision
    assert clear.sum() >= 8, f"only {clear.sum()} clear decisions: the test would prove little"
    assert (p_dev.argmax(1)[clear] == p_cpu.argmax(1)[clear]).all()
    assert np.abs(p_dev - p_cpu).max() < 0.1
