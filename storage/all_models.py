"""Imports every model module so metadata (and Alembic) sees all tables."""

from storage import (
    access,
    activities,
    console,
    consultations,
    household_files,
    households,
    knowledge,
    ledger,
    models,
    rewards,
    safecheck,
    tickets,
    volunteers,
)

__all__ = [
    "access",
    "activities",
    "console",
    "consultations",
    "household_files",
    "households",
    "knowledge",
    "ledger",
    "models",
    "rewards",
    "safecheck",
    "tickets",
    "volunteers",
]
