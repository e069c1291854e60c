"""Imports every model module so metadata (and Alembic) sees all tables."""

from storage import access, consultations, knowledge, models, tickets, volunteers

__all__ = ["access", "consultations", "knowledge", "models", "tickets", "volunteers"]
