"""The project store: one SQLite file per project (SQLAlchemy 2.0, Alembic migrations).

    project = open_project("line3.db")
    with project.session() as s:          # one transaction, committed on success
        rec = get_image(s, "good/0001.png")
        set_label(s, rec.id, "scratch", expected_version=rec.label_version)

Data functions take a session and never commit; they return records from `core.store.records`.
"""
from core.errors import LabelConflict, NotFound, StoreError, UnknownClass
from core.store.project import Project, open_project
from core.store.records import (
    DatasetRecord,
    GroupResult,
    ImageRecord,
    ImportReport,
    JobRecord,
    LabelEventRecord,
    LabelState,
    ModelVersionRecord,
    SnapshotRecord,
    SnapshotRow,
)

__all__ = [
    "DatasetRecord",
    "GroupResult",
    "ImageRecord",
    "ImportReport",
    "JobRecord",
    "LabelConflict",
    "LabelEventRecord",
    "LabelState",
    "ModelVersionRecord",
    "NotFound",
    "Project",
    "SnapshotRecord",
    "SnapshotRow",
    "StoreError",
    "UnknownClass",
    "open_project",
]
