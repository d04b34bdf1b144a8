"""team: roster hours and contacts, on-call rotations and overrides, routed deliveries

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")
ROUTING = ("recipient", "reason", "step", "held_until")


def routing_columns() -> list[sa.Column[object]]:
    """The columns routing adds to ``incident_deliveries``."""
    return [
        sa.Column("recipient", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("held_until", sa.Float(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "team_members",
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("focus", sa.JSON(), nullable=False),
        sa.Column("away", sa.JSON(), nullable=False),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "rotations",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("handoff_day", sa.Integer(), nullable=True),
        sa.Column("handoff_minute", sa.Integer(), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("follow_sun", sa.Boolean(), nullable=False),
        sa.Column("escalate_after", sa.Float(), nullable=False),
        sa.Column("fallback", sa.String(length=100), nullable=True),
        sa.Column("projects", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "oncall_overrides",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("rotation_id", BigId, nullable=False),
        sa.Column("person", sa.String(length=100), nullable=False),
        sa.Column("start_at", sa.Float(), nullable=False),
        sa.Column("end_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["rotation_id"], ["rotations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("oncall_overrides", schema=None) as batch_op:
        batch_op.create_index(
            "ix_oncall_overrides_rotation", ["rotation_id", "end_at"], unique=False
        )
    with op.batch_alter_table("incident_deliveries", schema=None) as batch_op:
        for column in routing_columns():
            batch_op.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("incident_deliveries", schema=None) as batch_op:
        for name in ROUTING:
            batch_op.drop_column(name)
    op.drop_table("oncall_overrides")
    op.drop_table("rotations")
    op.drop_table("team_members")
