"""Initial project schema: datasets, images, classes, current labels, the label log, models, predictions.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-25
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "dataset",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("root", sa.Text(), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "class",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False, unique=True),
        sa.Column("index", sa.Integer(), nullable=False, unique=True),
    )
    op.create_table(
        "image",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset_id", sa.Integer(), sa.ForeignKey("dataset.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rel_path", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64)),
        sa.Column("size_bytes", sa.Integer()),
        sa.Column("width", sa.Integer()),
        sa.Column("height", sa.Integer()),
        sa.Column("channels", sa.Integer()),
        sa.Column("split", sa.String(16)),
        sa.Column("mask_rel_path", sa.Text()),
        sa.Column("category", sa.String(128)),
        sa.Column("readable", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("missing", sa.Boolean(), nullable=False),
        sa.Column("class_id", sa.Integer(), sa.ForeignKey("class.id")),
        sa.Column("added", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("dataset_id", "rel_path", name="uq_image_dataset_path"),
    )
    op.create_index("ix_image_path", "image", ["missing", "rel_path"])
    op.create_index("ix_image_class_path", "image", ["class_id", "missing", "rel_path"])
    op.create_index("ix_image_split_path", "image", ["split", "missing", "rel_path"])
    op.create_index("ix_image_hash", "image", ["content_hash"])
    op.create_table(
        "label",
        sa.Column("image_id", sa.Integer(), sa.ForeignKey("image.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("class_id", sa.Integer(), sa.ForeignKey("class.id")),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(16)),
        sa.Column("updated_by", sa.String(128)),
        sa.Column("updated_at", sa.DateTime()),
    )
    op.create_table(
        "label_group",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("target_group_id", sa.Integer(), sa.ForeignKey("label_group.id")),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
    )
    op.create_index("ix_label_group_user", "label_group", ["user", "id"])
    op.create_table(
        "label_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("image_id", sa.Integer(), sa.ForeignKey("image.id", ondelete="CASCADE"), nullable=False),
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("label_group.id"), nullable=False),
        sa.Column("old_class_id", sa.Integer(), sa.ForeignKey("class.id")),
        sa.Column("new_class_id", sa.Integer(), sa.ForeignKey("class.id")),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
    )
    op.create_index("ix_label_event_image", "label_event", ["image_id", "id"])
    op.create_index("ix_label_event_group", "label_event", ["group_id"])
    op.create_table(
        "model",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("arch", sa.String(64), nullable=False),
        sa.Column("class_names", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("model.id")),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("meta", sa.Text(), nullable=False),
    )
    op.create_table(
        "prediction",
        sa.Column("model_id", sa.Integer(), sa.ForeignKey("model.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("image_id", sa.Integer(), sa.ForeignKey("image.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("top_index", sa.Integer(), nullable=False),
        sa.Column("class_id", sa.Integer(), sa.ForeignKey("class.id")),
        sa.Column("rel_path", sa.Text(), nullable=False),
        sa.Column("label_class_id", sa.Integer(), sa.ForeignKey("class.id")),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("margin", sa.Float(), nullable=False),
        sa.Column("entropy", sa.Float(), nullable=False),
        sa.Column("probs", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_prediction_class_conf", "prediction", ["model_id", "class_id", "confidence", "image_id"])
    op.create_index("ix_prediction_class_path", "prediction", ["model_id", "class_id", "rel_path", "image_id"])
    op.create_index("ix_prediction_conf", "prediction", ["model_id", "confidence", "image_id"])
    op.create_index("ix_prediction_image", "prediction", ["image_id"])
    disagrees = sa.text("label_class_id IS NOT NULL AND class_id IS NOT label_class_id")
    # PostgreSQL spells SQLite's null-safe `IS NOT` as IS DISTINCT FROM (SQLite files are unchanged).
    pg_disagrees = sa.text("label_class_id IS NOT NULL AND class_id IS DISTINCT FROM label_class_id")
    op.create_index("ix_prediction_disagree_path", "prediction", ["model_id", "rel_path", "image_id"],
                    sqlite_where=disagrees, postgresql_where=pg_disagrees)
    op.create_index("ix_prediction_disagree_conf", "prediction", ["model_id", "confidence", "image_id"],
                    sqlite_where=disagrees, postgresql_where=pg_disagrees)


def downgrade() -> None:
    for table in ("prediction", "model", "label_event", "label_group", "label", "image", "class", "dataset"):
        op.drop_table(table)
