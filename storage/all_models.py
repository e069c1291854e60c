"""Imports every model module so metadata (and Alembic) sees all tables."""

import storage.board  # the notice board
import storage.satisfaction  # noqa: F401  (improvement tasks; imported for its tables)
from storage import access, activities, console, consultations, knowledge, ledger, models, rewards, tickets, volunteers

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
]
