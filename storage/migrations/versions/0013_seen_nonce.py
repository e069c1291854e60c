"""seen_nonce: a plaintext-mode callback URL is good for one message only

Revision ID: 0013
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "seen_nonce",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_seen_nonce_seen_at", "seen_nonce", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_seen_nonce_seen_at", table_name="seen_nonce")
    op.drop_table("seen_nonce")
