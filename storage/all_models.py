"""Imports every model module so metadata (and Alembic) sees all tables."""

from storage import access, consultations, models, tickets, volunteers

__all__ = ["access", "consultations", "models", "tickets", "volunteers"]
