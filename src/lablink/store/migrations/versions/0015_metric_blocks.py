"""metric blocks: a key's points compressed in blocks; existing chunks folded into them

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")

chunks = sa.table(
    "metric_chunks",
    sa.column("id", sa.BigInteger),
    sa.column("run_id", sa.String),
    sa.column("key", sa.String),
    sa.column("n", sa.Integer),
    sa.column("step_min", sa.BigInteger),
    sa.column("step_max", sa.BigInteger),
    sa.column("steps", sa.LargeBinary),
    sa.column("times", sa.LargeBinary),
    sa.column("values", sa.LargeBinary),
)
blocks = sa.table(
    "metric_blocks",
    sa.column("id", sa.BigInteger),
    sa.column("run_id", sa.String),
    sa.column("key", sa.String),
    sa.column("n", sa.Integer),
    sa.column("step_min", sa.BigInteger),
    sa.column("step_max", sa.BigInteger),
    sa.column("data", sa.LargeBinary),
)


def upgrade() -> None:
    op.create_table(
        "metric_blocks",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("step_min", sa.BigInteger(), nullable=False),
        sa.Column("step_max", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("metric_blocks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_metric_blocks_run_key_step", ["run_id", "key", "step_min"], unique=False
        )
    _fold_existing(op.get_bind())


def _fold_existing(conn: sa.Connection) -> None:
    """Every key's chunks become blocks that read back the same points in the same order.

    A key is read in pieces of about a block, so a long history never sits in memory
    whole; the chunks are then deleted in the same transaction.
    """
    from lablink.store.metric_codec import BLOCK_POINTS, fold

    c = chunks.c
    keys = conn.execute(sa.select(c.run_id, c.key).distinct().order_by(c.run_id, c.key)).all()
    for run_id, key in keys:
        pending: list[tuple[bytes, bytes, bytes]] = []
        size = 0
        rows = conn.execute(
            sa.select(c.n, c.steps, c.times, c["values"])
            .where(c.run_id == run_id, c.key == key)
            .order_by(c.step_min, c.id)
        ).all()
        for i, row in enumerate(rows):
            pending.append((row[1], row[2], row[3]))
            size += row[0]
            if size >= BLOCK_POINTS or i == len(rows) - 1:
                for n, lo, hi, data in fold(pending):
                    conn.execute(
                        blocks.insert().values(
                            run_id=run_id, key=key, n=n, step_min=lo, step_max=hi, data=data
                        )
                    )
                pending, size = [], 0
        conn.execute(chunks.delete().where(c.run_id == run_id, c.key == key))


def downgrade() -> None:
    """Each key's blocks become one chunk holding its points in the order they read."""
    import numpy as np

    from lablink.store.metric_codec import decode

    conn = op.get_bind()
    b = blocks.c
    keys = conn.execute(sa.select(b.run_id, b.key).distinct().order_by(b.run_id, b.key)).all()
    for run_id, key in keys:
        data = conn.execute(
            sa.select(b.data).where(b.run_id == run_id, b.key == key).order_by(b.id)
        ).scalars()
        parts = [decode(block) for block in data]
        steps, times, values = (np.concatenate([p[i] for p in parts]) for i in range(3))
        order = np.argsort(steps, kind="stable")
        steps, times, values = steps[order], times[order], values[order]
        conn.execute(
            chunks.insert().values(
                run_id=run_id,
                key=key,
                n=len(steps),
                step_min=int(steps[0]),
                step_max=int(steps[-1]),
                steps=steps.tobytes(),
                times=times.tobytes(),
                values=values.tobytes(),
            )
        )
    op.drop_table("metric_blocks")
