"""The migrations build exactly the schema the models describe, on every backend, and run down again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from storage.all_models import models
from storage.migrate import downgrade, upgrade


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    engine = create_engine(db_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, models.Base.metadata)
    engine.dispose()
    assert differences == []


def test_downgrade_to_nothing_and_up_again(sqlite_url: str) -> None:
    downgrade(sqlite_url, "base")
    upgrade(sqlite_url)
    engine = create_engine(sqlite_url)
    with engine.connect() as connection:
        assert "consultation" in connection.dialect.get_table_names(connection)
    engine.dispose()
