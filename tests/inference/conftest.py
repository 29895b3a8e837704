"""A small real project on disk: PNG files in class folders, scanned and imported into a SQLite store,
and a real (tiny, untrained) checkpoint registered as a model version."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_folder_dataset(root: Path, n_per_class: int = 6, size: int = 48, classes=("good", "scratch")) -> Path:
    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            img = rng.integers(0, 80, (size, size + 8), dtype=np.uint8)
            if c:
                img[size // 2 - 1 : size // 2 + 1, 4:-4] = 250
            Image.fromarray(img).save(folder / f"{name}_{i:02d}.png")
    return root


@pytest.fixture
def small_project(tmp_path):
    from core.data.scan import scan_dataset
    from core.model import create_model
    from core.model.checkpoint import CheckpointMeta, save_checkpoint
    from core.store import open_project
    from core.store.ingest import import_scan
    from core.store.model_versions import register_model_version

    data = write_folder_dataset(tmp_path / "data")
    project = open_project(tmp_path / "p.db")
    with project.session() as s:
        import_scan(s, scan_dataset(data), user="test")
    meta = CheckpointMeta(arch="aan_t", class_names=["good", "scratch"], in_chans=1, input_size=64,
                          mean=(0.2,), std=(0.3,))
    ckpt = save_checkpoint(tmp_path / "m.safetensors", create_model("aan_t", 2, in_chans=1), meta)
    with project.session() as s:
        model_id = register_model_version(s, str(ckpt), meta)
    yield project, model_id, data, ckpt
    project.close()
