"""improvement_task: a category or grid whose 30-day satisfaction fell below the line, until it recovers

Revision ID: 0028
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
# The ratings it is opened from are ticket events: after the ticket tables exist.
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "improvement_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("community.id"), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_key", sa.String(length=32), nullable=False),
        sa.Column("scope_name", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("open_key", sa.String(length=120), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("review_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rate_opened", sa.Float(), nullable=False),
        sa.Column("ratings_opened", sa.Integer(), nullable=False),
        sa.Column("tickets", sa.JSON(), nullable=False),
        sa.Column("rate_latest", sa.Float(), nullable=True),
        sa.Column("ratings_latest", sa.Integer(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("open_key"),
    )
    op.create_index("ix_improvement_task_community_id", "improvement_task", ["community_id"])


def downgrade() -> None:
    op.drop_index("ix_improvement_task_community_id", table_name="improvement_task")
    op.drop_table("improvement_task")
