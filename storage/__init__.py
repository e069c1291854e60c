"""Persistence: SQLAlchemy models, repositories (take a Session, never commit) and Alembic migrations."""
