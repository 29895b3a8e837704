"""Project identity (SQLite application_id), files an import skipped, class merges, job status detail.

Revision ID: 0003_identity_skips_merges
Revises: 0002_review_snapshots_jobs
Create Date: 2026-12-01
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003_identity_skips_merges"
down_revision: Union[str, Sequence[str], None] = "0002_review_snapshots_jobs"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

APPLICATION_ID = 0x494E5350  # "INSP"; the same constant as core.store.identity.APPLICATION_ID (checked by a test)


def upgrade() -> None:
    # In the file header: any tool (`file`, sqlite3, Inspector before it reads a table) can tell a project.
    # (A PostgreSQL database is told by its alembic_version table: core.store.identity.check_database.)
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    op.create_table(
        "skipped_file",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset_id", sa.Integer(), sa.ForeignKey("dataset.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rel_path", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("seen", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("dataset_id", "rel_path", name="uq_skipped_file_dataset_path"),
    )
    # SQLite cannot add a foreign key to an existing table: batch mode rebuilds `class` with its rows.
    with op.batch_alter_table("class") as batch:
        batch.add_column(sa.Column("merged_into_id", sa.Integer()))
        batch.create_foreign_key("fk_class_merged_into", "class", ["merged_into_id"], ["id"])
    op.add_column("job", sa.Column("detail", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("job") as batch:
        batch.drop_column("detail")
    with op.batch_alter_table("class") as batch:
        batch.drop_constraint("fk_class_merged_into", type_="foreignkey")
        batch.drop_column("merged_into_id")
    op.drop_table("skipped_file")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA application_id = 0")
