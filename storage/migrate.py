"""Bring a database to the newest schema with Alembic (used by `shegong migrate` and the tests)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


@lru_cache(maxsize=1)
def expected_revisions() -> frozenset[str]:
    """The newest revisions this code's migrations lead to."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def schema_problem(connection: Connection) -> str | None:
    """Why this database's schema is not the one the code expects (never migrated, behind, ahead), or None."""
    current = frozenset(MigrationContext.configure(connection).get_current_heads())
    expected = expected_revisions()
    if current == expected:
        return None
    if not current:
        return "the database was never migrated"
    unknown = current - expected
    if unknown:
        return f"the database has migrations this code does not know ({', '.join(sorted(unknown))})"
    return f"the database schema is behind (missing {', '.join(sorted(expected - current))})"
