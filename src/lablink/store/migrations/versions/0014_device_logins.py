"""device logins: `lablink login` approved in a browser, the device code stored as a hash

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "device_logins",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("device_hash", sa.String(length=80), nullable=False),
        sa.Column("user_code", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("polled_at", sa.Float(), nullable=True),
        sa.Column("user_id", BigId, nullable=True),
        sa.Column("token_id", BigId, nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device_hash"),
    )
    with op.batch_alter_table("device_logins", schema=None) as batch_op:
        batch_op.create_index("ix_device_logins_user_code", ["user_code"], unique=False)


def downgrade() -> None:
    op.drop_table("device_logins")
