"""dataset versions: the profile of their tables and the schema they were validated against

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dataset_versions") as batch:
        batch.add_column(sa.Column("profile_digest", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("schema_ref", sa.String(length=220), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dataset_versions") as batch:
        batch.drop_column("schema_ref")
        batch.drop_column("profile_digest")
