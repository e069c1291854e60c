"""Imports every model module so metadata (and Alembic) sees all tables."""

from storage import consultations, models, tickets, volunteers

__all__ = ["consultations", "models", "tickets", "volunteers"]
