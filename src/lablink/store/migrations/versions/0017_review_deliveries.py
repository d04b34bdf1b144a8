"""review deliveries: the notification outbox also carries review events

A row names either an incident or a review event: ``incident_id`` becomes nullable and
``review_event_id`` points at the event (request, approve, reject, comment, revoke)
whose notification it is.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("incident_deliveries", schema=None) as batch_op:
        batch_op.alter_column("incident_id", existing_type=BigId, nullable=True)
        batch_op.add_column(sa.Column("review_event_id", BigId, nullable=True))
        batch_op.create_foreign_key(
            "fk_incident_deliveries_review_event", "review_events", ["review_event_id"], ["id"]
        )
        batch_op.create_index(
            "ix_incident_deliveries_review_event", ["review_event_id"], unique=False
        )


def downgrade() -> None:
    # review rows have no incident: they go with the column
    op.execute(
        "DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM "
        "incident_deliveries WHERE incident_id IS NULL)"
    )
    op.execute("DELETE FROM incident_deliveries WHERE incident_id IS NULL")
    with op.batch_alter_table("incident_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_deliveries_review_event")
        batch_op.drop_constraint("fk_incident_deliveries_review_event", type_="foreignkey")
        batch_op.drop_column("review_event_id")
        batch_op.alter_column("incident_id", existing_type=BigId, nullable=False)
