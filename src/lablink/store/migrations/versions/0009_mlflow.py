"""mlflow: experiment ids per project, run lifecycle, exact params and key/value tags

Revision ID: 0009
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mlflow_experiments",
        sa.Column("experiment_id", BigId, autoincrement=True, nullable=False),
        sa.Column("project_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("lifecycle_stage", sa.String(length=20), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("experiment_id"),
        sa.UniqueConstraint("project_id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "mlflow_runs",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("lifecycle_stage", sa.String(length=20), nullable=False),
        sa.Column("deleted_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("run_id"),
    )
    for table in ("mlflow_params", "mlflow_tags"):
        op.create_table(
            table,
            sa.Column("run_id", sa.String(length=32), nullable=False),
            sa.Column("key", sa.String(length=500), nullable=False),
            sa.Column("value", sa.Text(), nullable=False),
            sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
            sa.PrimaryKeyConstraint("run_id", "key"),
        )


def downgrade() -> None:
    for table in ("mlflow_tags", "mlflow_params", "mlflow_runs", "mlflow_experiments"):
        op.drop_table(table)
