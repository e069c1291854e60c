"""Imports every model module so metadata (and Alembic) sees all tables."""

from storage import (
    access,
    activities,
    alerts,
    console,
    consultations,
    households,
    knowledge,
    ledger,
    models,
    rewards,
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
    "households",
    "knowledge",
    "ledger",
    "models",
    "rewards",
    "tickets",
    "volunteers",
    "wecom_cards",
]
