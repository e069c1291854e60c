"""outbox.priority (red alerts first) and outbox.first_sent_at (when a row's message first went out)

Revision ID: 0009
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("first_sent_at", sa.DateTime(timezone=True), nullable=True))
    # Red alerts already queued jump the queue too.
    outbox = sa.table("outbox", sa.column("priority", sa.Integer()), sa.column("payload", sa.JSON()))
    op.execute(outbox.update().where(outbox.c.payload["level"].as_string() == "red").values(priority=10))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_column("first_sent_at")
        batch_op.drop_column("priority")
