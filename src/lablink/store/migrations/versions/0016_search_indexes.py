"""search indexes: run searches and counts read covering indexes

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# name, table, columns before, columns after
_WIDENED = (
    (
        "ix_runs_project_created",
        "runs",
        ["project_id", "created_at"],
        ["project_id", "created_at", "id"],
    ),
    ("ix_run_params_key", "run_params", ["key", "value_num"], ["key", "value_num", "run_id"]),
    (
        "ix_run_metrics_key",
        "run_metrics",
        ["key", "run_id"],
        ["key", "run_id", "summary_value", "last_value"],
    ),
)


def upgrade() -> None:
    for name, table, _, columns in _WIDENED:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)
    op.create_index("ix_runs_id_project", "runs", ["id", "project_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_id_project", table_name="runs")
    for name, table, columns, _ in _WIDENED:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)
