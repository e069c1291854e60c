"""inbound_message.attempts and retry_at: a message whose handling failed is tried again, then shown to a person

Revision ID: 0010
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_message") as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_inbound_message_retry", ["status", "retry_at"])


def downgrade() -> None:
    with op.batch_alter_table("inbound_message") as batch_op:
        batch_op.drop_index("ix_inbound_message_retry")
        batch_op.drop_column("retry_at")
        batch_op.drop_column("attempts")
