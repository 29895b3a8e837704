"""The project schema at the newest migration (ORM, SQLAlchemy 2.0 typed style).

Alembic migrations in `migrations/versions/` are the source of truth for what a file contains;
`tests/store/test_migrations.py` checks this module and the migrations describe the same schema.

Denormalised on purpose: `image.class_id` mirrors `label.class_id` (written in the same
transaction by `core.store.labels`) so "images labelled X sorted by name" is one index range scan
on `ix_image_class_path` instead of a join plus a sort over a million rows.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.store.clock import utcnow

LABEL_SOURCES = ("import", "manual", "bulk", "undo", "redo")
JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
SPLITS = ("train", "val", "test")
DISAGREES = "label_class_id IS NOT NULL AND class_id IS NOT label_class_id"
PG_DISAGREES = "label_class_id IS NOT NULL AND class_id IS DISTINCT FROM label_class_id"  # the same, PostgreSQL's words


class Base(DeclarativeBase):
    pass


class Dataset(Base):
    __tablename__ = "dataset"

    id: Mapped[int] = mapped_column(primary_key=True)
    root: Mapped[str] = mapped_column(Text)  # absolute folder; relocate_dataset() rewrites only this
    format: Mapped[str] = mapped_column(String(32), default="auto")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Image(Base):
    __tablename__ = "image"
    __table_args__ = (
        UniqueConstraint("dataset_id", "rel_path", name="uq_image_dataset_path"),
        # `missing` sits before rel_path: every default query says missing = 0, so with it in the
        # index a page sorted by name is one range scan and a count never touches the table.
        Index("ix_image_path", "missing", "rel_path"),
        Index("ix_image_class_path", "class_id", "missing", "rel_path"),
        Index("ix_image_split_path", "split", "missing", "rel_path"),
        Index("ix_image_hash", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id", ondelete="CASCADE"))
    rel_path: Mapped[str] = mapped_column(Text)  # POSIX, relative to dataset.root
    content_hash: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    channels: Mapped[int | None] = mapped_column(Integer)
    split: Mapped[str | None] = mapped_column(String(16))
    mask_rel_path: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(128))
    readable: Mapped[bool] = mapped_column(Boolean, default=True)
    error: Mapped[str | None] = mapped_column(Text)
    missing: Mapped[bool] = mapped_column(Boolean, default=False)
    class_id: Mapped[int | None] = mapped_column(ForeignKey("class.id"))  # mirror of label.class_id
    added: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ImageClass(Base):
    __tablename__ = "class"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    index: Mapped[int] = mapped_column(Integer, unique=True)  # order shown to users and given to training
    # Set by `inspector classes merge`: the name still resolves (to the target) and history keeps it.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("class.id", name="fk_class_merged_into"))


class Label(Base):
    """The current label of an image; `version` grows by one on every change (optimistic locking)."""

    __tablename__ = "label"
    __table_args__ = (Index("ix_label_updated_by", "updated_by"),)

    image_id: Mapped[int] = mapped_column(ForeignKey("image.id", ondelete="CASCADE"), primary_key=True)
    class_id: Mapped[int | None] = mapped_column(ForeignKey("class.id"))
    version: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str | None] = mapped_column(String(16))  # source of the last change: re-import keeps manual ones
    updated_by: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)


class LabelGroup(Base):
    """One user action (a set, a bulk set, an undo, a redo, an import): the unit that undo reverts."""

    __tablename__ = "label_group"
    __table_args__ = (Index("ix_label_group_user", "user", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(16))
    target_group_id: Mapped[int | None] = mapped_column(ForeignKey("label_group.id"))  # what an undo/redo reverts
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    size: Mapped[int] = mapped_column(Integer, default=0)


class LabelEvent(Base):
    """Append-only log; nothing ever updates or deletes a row here."""

    __tablename__ = "label_event"
    __table_args__ = (
        Index("ix_label_event_image", "image_id", "id"),
        Index("ix_label_event_group", "group_id"),
        Index("ix_label_event_user", "user", "image_id"),
        Index("ix_label_event_time", "time", "image_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("image.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("label_group.id"))
    old_class_id: Mapped[int | None] = mapped_column(ForeignKey("class.id"))
    new_class_id: Mapped[int | None] = mapped_column(ForeignKey("class.id"))
    user: Mapped[str] = mapped_column(String(128))
    time: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(16))


class Snapshot(Base):
    __tablename__ = "snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    event_position: Mapped[int] = mapped_column(Integer, default=0)  # max label_event.id included
    seed: Mapped[int] = mapped_column(Integer, default=0)
    val_fraction: Mapped[float] = mapped_column(Float, default=0.2)
    generated_val: Mapped[bool] = mapped_column(Boolean, default=False)  # val split made here, not from the data
    class_names: Mapped[str] = mapped_column(Text, default="[]")  # JSON list, class index order
    note: Mapped[str | None] = mapped_column(Text)


class SnapshotRow(Base):
    __tablename__ = "snapshot_row"

    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id", ondelete="CASCADE"), primary_key=True)
    image_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # no FK: a snapshot outlives its images
    abs_path: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(256))
    split: Mapped[str] = mapped_column(String(16))


class ModelVersion(Base):
    """A registered checkpoint (a model version); the table keeps its first name, "model"."""

    __tablename__ = "model"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    path: Mapped[str] = mapped_column(Text)
    arch: Mapped[str] = mapped_column(String(64))
    class_names: Mapped[str] = mapped_column(Text)  # JSON list in output order
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model.id"))
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id"))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    meta: Mapped[str] = mapped_column(Text, default="{}")  # checkpoint metadata as JSON


class Prediction(Base):
    __tablename__ = "prediction"
    __table_args__ = (
        # Each ends with image_id, the tie-breaker of every order: a page is one index range scan
        # that stops after offset + limit entries, with no sort.
        Index("ix_prediction_class_conf", "model_id", "class_id", "confidence", "image_id"),
        Index("ix_prediction_class_path", "model_id", "class_id", "rel_path", "image_id"),
        Index("ix_prediction_conf", "model_id", "confidence", "image_id"),
        Index("ix_prediction_image", "image_id"),
        # Partial indexes holding only label-vs-prediction disagreements: the review view's pages
        # and counts read just those entries. Queries must repeat DISAGREES verbatim to use them.
        Index("ix_prediction_disagree_path", "model_id", "rel_path", "image_id", sqlite_where=text(DISAGREES),
              postgresql_where=text(PG_DISAGREES)),
        Index("ix_prediction_disagree_conf", "model_id", "confidence", "image_id", sqlite_where=text(DISAGREES),
              postgresql_where=text(PG_DISAGREES)),
    )

    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"), primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("image.id", ondelete="CASCADE"), primary_key=True)
    top_index: Mapped[int] = mapped_column(Integer)  # index into model.class_names
    class_id: Mapped[int | None] = mapped_column(ForeignKey("class.id"))  # same class in project terms
    # Copy of image.rel_path (which never changes: a new path is a new image) so "predicted as X,
    # sorted by name" is an index scan instead of a join and a sort over every such image.
    rel_path: Mapped[str] = mapped_column(Text)
    # Copy of the image's current label (kept by core.store.labels in the same transaction as the
    # label) so that disagreement is a condition on this row alone, i.e. indexable.
    label_class_id: Mapped[int | None] = mapped_column(ForeignKey("class.id"))
    confidence: Mapped[float] = mapped_column(Float)
    margin: Mapped[float] = mapped_column(Float)
    entropy: Mapped[float] = mapped_column(Float)
    probs: Mapped[bytes] = mapped_column(LargeBinary)  # float32 little-endian, len(model.class_names)


class ReviewScore(Base):
    __tablename__ = "review_score"
    __table_args__ = (Index("ix_review_score_model_score", "model_id", "score", "image_id"),)

    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"), primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("image.id", ondelete="CASCADE"), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(Text)


class Job(Base):
    __tablename__ = "job"
    __table_args__ = (Index("ix_job_state", "state", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    backend: Mapped[str] = mapped_column(String(32))
    profile: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    config: Mapped[str] = mapped_column(Text, default="{}")
    command: Mapped[str | None] = mapped_column(Text)  # command line or sbatch script, for the record
    workdir: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(128))  # pid or SLURM job id
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id"))
    base_model_id: Mapped[int | None] = mapped_column(ForeignKey("model.id"))
    result_model_id: Mapped[int | None] = mapped_column(ForeignKey("model.id"))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    log_tail: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)  # the backend's last word: requeued, node failure, stopping...


class SkippedFile(Base):
    """Files the latest import of a dataset left out without opening them (FIFOs, links out of the root...)."""

    __tablename__ = "skipped_file"
    __table_args__ = (UniqueConstraint("dataset_id", "rel_path", name="uq_skipped_file_dataset_path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id", ondelete="CASCADE"))
    rel_path: Mapped[str] = mapped_column(Text)  # printable form (core.data.file_checks.printable)
    reason: Mapped[str] = mapped_column(Text)
    seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
