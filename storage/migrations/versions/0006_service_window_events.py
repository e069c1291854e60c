"""resident.window_event_at: the click, follow or scan that opens the 1 minute customer-service window

Revision ID: 0006
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("resident") as batch_op:
        batch_op.add_column(sa.Column("window_event_at", sa.DateTime(timezone=True), nullable=True))
    # Before this revision a click, follow or scan also set last_inbound_at. Reset it to the resident's
    # last message, or a recent click would keep an expired 48 h window open after the upgrade.
    resident = sa.table("resident", sa.column("id"), sa.column("last_inbound_at"))
    inbound = sa.table("inbound_message", sa.column("resident_id"), sa.column("msg_type"), sa.column("received_at"))
    last_message = (
        sa.select(sa.func.max(inbound.c.received_at))
        .where(inbound.c.resident_id == resident.c.id, inbound.c.msg_type != "event")
        .scalar_subquery()
    )
    op.execute(resident.update().where(resident.c.last_inbound_at.is_not(None)).values(last_inbound_at=last_message))


def downgrade() -> None:
    with op.batch_alter_table("resident") as batch_op:
        batch_op.drop_column("window_event_at")
