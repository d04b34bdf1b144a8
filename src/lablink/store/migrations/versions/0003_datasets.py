"""versioned datasets: datasets, immutable versions, lineage between versions

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("dataset_id", BigId, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=80), nullable=False),
        sa.Column("algorithm", sa.String(length=20), nullable=False),
        sa.Column("files", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("source_run", sa.String(length=32), nullable=True),
        sa.Column("source_command", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_number"),
    )
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.create_index("ix_dataset_versions_digest", ["digest"], unique=False)
    op.create_table(
        "dataset_parents",
        sa.Column("version_id", BigId, nullable=False),
        sa.Column("parent_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["dataset_versions.id"]),
        sa.ForeignKeyConstraint(["version_id"], ["dataset_versions.id"]),
        sa.PrimaryKeyConstraint("version_id", "parent_id"),
    )
    with op.batch_alter_table("dataset_parents", schema=None) as batch_op:
        batch_op.create_index("ix_dataset_parents_parent", ["parent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dataset_parents", schema=None) as batch_op:
        batch_op.drop_index("ix_dataset_parents_parent")
    op.drop_table("dataset_parents")
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_dataset_versions_digest")
    op.drop_table("dataset_versions")
    op.drop_table("datasets")
