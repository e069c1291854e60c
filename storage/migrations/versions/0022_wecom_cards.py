"""wecom_card: ticket cards sent to workers and the single-use response_code that updates each

Revision ID: 0022
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wecom_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=128), nullable=False),
        sa.Column("ticket_code", sa.String(length=8), nullable=False),
        sa.Column("userid", sa.String(length=64), nullable=False),
        sa.Column("response_code", sa.String(length=512), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id"),
    )
    op.create_index("ix_wecom_card_ticket_code", "wecom_card", ["ticket_code"])


def downgrade() -> None:
    op.drop_index("ix_wecom_card_ticket_code", table_name="wecom_card")
    op.drop_table("wecom_card")
