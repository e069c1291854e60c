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


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


@lru_cache(maxsize=1)
def expected_revisions() -> frozenset[str]:
    """Every revision this code's migrations lead to."""
    return frozenset(rev.revision for rev in _script().walk_revisions())


def _stands_on(script: ScriptDirectory, revision: str) -> tuple[str, ...]:
    found = script.get_revision(revision)
    if found is None:
        return ()
    names: list[str] = []
    for value in (found.down_revision, found.dependencies):
        if isinstance(value, str):
            names.append(value)
        elif value:
            names.extend(value)
    return tuple(names)


def schema_problem(connection: Connection) -> str | None:
    """Why this database's schema is not the one the code expects (never migrated, behind, ahead), or None.

    Alembic keeps only the newest revision of each branch, and drops a head that another revision names in
    `depends_on`; what is applied is those and everything they stand on."""
    current = frozenset(MigrationContext.configure(connection).get_current_heads())
    if not current:
        return "the database was never migrated"
    expected = expected_revisions()
    unknown = current - expected
    if unknown:
        return f"the database has migrations this code does not know ({', '.join(sorted(unknown))})"
    applied = frozenset(rev.revision for rev in _script().iterate_revisions(tuple(current), "base"))
    missing = expected - applied
    if not missing:
        return None
    # Name the newest of what is missing: those no other missing revision stands on.
    script = _script()
    beneath = {below for rev in missing for below in _stands_on(script, rev)}
    newest = sorted(missing - beneath) or sorted(missing)
    return f"the database schema is behind (missing {', '.join(newest)})"
