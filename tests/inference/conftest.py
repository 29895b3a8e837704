"""A small real project on disk: PNG files in class folders (support.synthetic_datasets), scanned and imported
into a SQLite store, and a real (tiny, untrained) checkpoint registered as a model version."""
import pytest
from support.synthetic_datasets import import_folder, tiny_checkpoint, write_parts


@pytest.fixture
def small_project(tmp_path):
    """(project, model id, data folder, checkpoint): good/good_00..05.png and scratch/scratch_00..05.png,
    48x56 px grayscale (not square: the whole image is resized to the model's input), every scratch on the
    middle row (a label scan's short training learns it), and an aan_t."""
    from core.store.model_versions import register_model_version

    data = tmp_path / "data"
    write_parts(data, ("good", "scratch"), n=12, shape=(48, 56), scratch_row=24)
    project = import_folder(tmp_path / "p.db", data, user="test")
    ckpt, meta = tiny_checkpoint(tmp_path / "m.safetensors", ["good", "scratch"], arch="aan_t", mean=(0.2,), std=(0.3,))
    with project.session() as s:
        model_id = register_model_version(s, str(ckpt), meta)
    yield project, model_id, data, ckpt
    project.close()
