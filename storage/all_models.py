"""Imports every model module so metadata (and Alembic) sees all tables."""

from storage import access, activities, console, consultations, knowledge, ledger, models, rewards, tickets, volunteers
from storage import board, satisfaction

__all__ = [
    "access",
    "activities",
    "console",
    "consultations",
    "knowledge",
    "ledger",
    "models",
    "rewards",
    "tickets",
    "volunteers",
    "board",
    "satisfaction",
]
