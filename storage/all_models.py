"""Imports every model module so metadata (and Alembic) sees all tables."""

from storage import (
    access,
    activities,
    console,
    consultations,
    households,
    knowledge,
    ledger,
    models,
    participation,
    rewards,
    tickets,
    volunteers,
)

__all__ = [
    "access",
    "activities",
    "console",
    "consultations",
    "households",
    "knowledge",
    "ledger",
    "models",
    "participation",
    "rewards",
    "tickets",
    "volunteers",
]
