"""Imports every model module so metadata (and Alembic) sees all tables."""

from storage import models

__all__ = ["models"]
