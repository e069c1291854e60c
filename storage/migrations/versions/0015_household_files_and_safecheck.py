"""household files (members, contacts, consent, log, device keys) and 报平安 (enrolments, daily checks)

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "household_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("tags", sa.String(length=200), nullable=False),
        sa.Column("sensitive_encrypted", sa.Text(), nullable=True),
        sa.Column("needs", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_household_member_household_id", "household_member", ["household_id"])
    op.create_index("ix_household_member_resident_id", "household_member", ["resident_id"])
    op.create_table(
        "household_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone_encrypted", sa.Text(), nullable=True),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("wecom_userid", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_household_contact_household_id", "household_contact", ["household_id"])
    op.create_index("ix_household_contact_resident_id", "household_contact", ["resident_id"])
    op.create_index("ix_household_contact_wecom_userid", "household_contact", ["wecom_userid"])
    op.create_table(
        "household_consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("given_by", sa.String(length=100), nullable=False),
        sa.Column("wording", sa.Text(), nullable=False),
        sa.Column("given_at", UTC, nullable=False),
        sa.Column("withdrawn_at", UTC, nullable=True),
        sa.Column("withdrawn_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_household_consent_household_id", "household_consent", ["household_id"])
    op.create_table(
        "household_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_household_log_at", "household_log", ["household_id", "at"])
    op.create_table(
        "device_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index("ix_device_key_household_id", "device_key", ["household_id"])
    op.create_table(
        "safecheck_enrolment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("prompt_minute", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paused_until", sa.Date(), nullable=True),
        sa.Column("enrolled_by", sa.String(length=100), nullable=False),
        sa.Column("last_contact_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"]),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["household_member.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_safecheck_enrolment_community_id", "safecheck_enrolment", ["community_id"])
    op.create_index("ix_safecheck_enrolment_household_id", "safecheck_enrolment", ["household_id"])
    op.create_index("ix_safecheck_enrolment_resident_id", "safecheck_enrolment", ["resident_id"])
    op.create_table(
        "safecheck_day",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=False),
        sa.Column("resolved_at", UTC, nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("ticket_code", sa.String(length=8), nullable=True),
        sa.ForeignKeyConstraint(["enrolment_id"], ["safecheck_enrolment.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("enrolment_id", "day", name="uq_safecheck_day"),
    )
    op.create_index("ix_safecheck_day_open", "safecheck_day", ["status", "day"])


def downgrade() -> None:
    for table in (
        "safecheck_day",
        "safecheck_enrolment",
        "device_key",
        "household_log",
        "household_consent",
        "household_contact",
        "household_member",
    ):
        op.drop_table(table)
