"""blob holders: indexes from a digest to the runs holding it (artifact, captured diff)

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every blob read by someone other than a server admin asks which runs hold it.
    op.create_index("ix_artifacts_digest", "artifacts", ["digest"])
    op.create_index("ix_runs_git_diff_digest", "runs", ["git_diff_digest"])


def downgrade() -> None:
    op.drop_index("ix_runs_git_diff_digest", table_name="runs")
    op.drop_index("ix_artifacts_digest", table_name="artifacts")
