"""Edge-export fixtures: a generated demo project (real PNGs, imported) scored by the shipped demo
model, its int8 export calibrated on that project, and an untrained aan_t with its fp32 export; all
made once per session."""
from __future__ import annotations

from pathlib import Path

import pytest

ASSETS = Path(__file__).resolve().parents[2] / "assets"
DEMO_MODEL = ASSETS / "demo_aan_s.safetensors"


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory) -> Path:
    """A project file of 80 demo images (seed 7: not the demo model's training data)."""
    from support.synthetic_datasets import import_folder

    from usecases.demo_project import write_demo_dataset

    base = tmp_path_factory.mktemp("edge_demo")
    data = write_demo_dataset(base / "data", 80, seed=7)
    import_folder(base / "demo.db", data.root).close()
    return base / "demo.db"


@pytest.fixture(scope="session")
def int8_export(demo_project, tmp_path_factory):
    """(path, ExportReport) of the demo model exported as int8, calibrated on the demo project."""
    from usecases.model_export import export_model

    out = tmp_path_factory.mktemp("edge_int8") / "demo_int8.onnx"
    return out, export_model(DEMO_MODEL, out, int8=True, calibrate_db=demo_project, calibrate_n=40)


@pytest.fixture(scope="session")
def aan_t_export(tmp_path_factory):
    """(checkpoint, fp32 ONNX export) of an untrained aan_t (support.synthetic_datasets.tiny_checkpoint),
    for tests that need an export to read or to damage, not the export itself."""
    from support.synthetic_datasets import tiny_checkpoint

    from core.edge.onnx_export import export_onnx

    base = tmp_path_factory.mktemp("edge_aan_t")
    ckpt, _ = tiny_checkpoint(base / "m.safetensors", ["good", "scratch", "crack"], arch="aan_t")
    return ckpt, export_onnx(ckpt, base / "m.onnx").path
