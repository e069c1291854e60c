"""Imports every model module so metadata (and Alembic) sees all tables."""

from storage import (
    access,
    activities,
    alerts,
    console,
    consultations,
    household_files,
    households,
    knowledge,
    ledger,
    models,
    participation,
    rewards,
    safecheck,
    tickets,
    volunteers,
)

# isort: split
from storage import wecom_cards

__all__ = [
    "access",
    "activities",
    "alerts",
    "console",
    "consultations",
    "household_files",
    "households",
    "knowledge",
    "ledger",
    "models",
    "participation",
    "rewards",
    "safecheck",
    "tickets",
    "volunteers",
    "wecom_cards",
]
