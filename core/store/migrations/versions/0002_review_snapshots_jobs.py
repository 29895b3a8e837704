"""Review scores, label snapshots, fine-tuning jobs; model -> snapshot link; indexes for who/when filters.

Revision ID: 0002_review_snapshots_jobs
Revises: 0001_initial
Create Date: 2026-11-25
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002_review_snapshots_jobs"
down_revision: Union[str, Sequence[str], None] = "0001_initial"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "snapshot",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("event_position", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("val_fraction", sa.Float(), nullable=False),
        sa.Column("generated_val", sa.Boolean(), nullable=False),
        sa.Column("class_names", sa.Text(), nullable=False),
        sa.Column("note", sa.Text()),
    )
    op.create_table(
        "snapshot_row",
        sa.Column("snapshot_id", sa.Integer(), sa.ForeignKey("snapshot.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("image_id", sa.Integer(), primary_key=True),
        sa.Column("abs_path", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64)),
        sa.Column("label", sa.String(256), nullable=False),
        sa.Column("split", sa.String(16), nullable=False),
    )
    op.create_table(
        "review_score",
        sa.Column("model_id", sa.Integer(), sa.ForeignKey("model.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("image_id", sa.Integer(), sa.ForeignKey("image.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text()),
    )
    op.create_index("ix_review_score_model_score", "review_score", ["model_id", "score", "image_id"])
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("profile", sa.String(64)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("command", sa.Text()),
        sa.Column("workdir", sa.Text()),
        sa.Column("external_id", sa.String(128)),
        sa.Column("snapshot_id", sa.Integer(), sa.ForeignKey("snapshot.id")),
        sa.Column("base_model_id", sa.Integer(), sa.ForeignKey("model.id")),
        sa.Column("result_model_id", sa.Integer(), sa.ForeignKey("model.id")),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.Column("log_tail", sa.Text()),
        sa.Column("error", sa.Text()),
    )
    op.create_index("ix_job_state", "job", ["state", "id"])
    # SQLite cannot add a foreign key to an existing table: batch mode rebuilds `model` with its rows.
    with op.batch_alter_table("model") as batch:
        batch.add_column(sa.Column("snapshot_id", sa.Integer()))
        batch.create_foreign_key("fk_model_snapshot", "snapshot", ["snapshot_id"], ["id"])
    op.create_index("ix_label_updated_by", "label", ["updated_by"])
    op.create_index("ix_label_event_user", "label_event", ["user", "image_id"])
    op.create_index("ix_label_event_time", "label_event", ["time", "image_id"])


def downgrade() -> None:
    op.drop_index("ix_label_event_time", "label_event")
    op.drop_index("ix_label_event_user", "label_event")
    op.drop_index("ix_label_updated_by", "label")
    with op.batch_alter_table("model") as batch:
        batch.drop_constraint("fk_model_snapshot", type_="foreignkey")
        batch.drop_column("snapshot_id")
    for table in ("job", "review_score", "snapshot_row", "snapshot"):
        op.drop_table(table)
