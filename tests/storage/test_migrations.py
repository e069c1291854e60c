"""The migrations build exactly the schema the models describe, on every backend, and run down again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from storage.all_models import models
from storage.migrate import downgrade, upgrade
from storage.models import Resident, UTCDateTime
from tests.support.databases import postgres_database


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    """Tables, columns, indexes and column types: a model that says Double where the migration built Float
    is a schema no migration made."""
    engine = create_engine(db_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
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


@pytest.fixture(params=["sqlite", "postgres"])
def own_db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated database of this test's own, free to be downgraded (the shared PostgreSQL one is not)."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    if request.getfixturevalue("_pg_url") is None:  # skips, or fails under CI, as db_url does
        pytest.skip("PostgreSQL is not reachable")
    with postgres_database() as url:
        yield url


def test_upgrading_keeps_only_messages_in_last_inbound_at(own_db_url: str) -> None:
    # Before 0006 a click, follow or scan also set last_inbound_at; left so, a resident who last wrote
    # 60 h ago but clicked 2 h ago would still be taken to be inside the 48 h window after the upgrade.
    now = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    downgrade(own_db_url, "0001")
    resident = sa.table(
        "resident",
        sa.column("id"),
        sa.column("openid"),
        sa.column("active"),
        sa.column("last_inbound_at", UTCDateTime()),
        sa.column("created_at", UTCDateTime()),
    )
    inbound = sa.table(
        "inbound_message",
        sa.column("dedupe_key"),
        sa.column("resident_id"),
        sa.column("msg_type"),
        sa.column("event"),
        sa.column("payload", sa.JSON()),
        sa.column("created_time", UTCDateTime()),
        sa.column("received_at", UTCDateTime()),
        sa.column("status"),
    )
    history = {  # resident: (what they did, hours ago), and last_inbound_at as the old code left it
        1: ([("text", 60), ("click", 2)], 2),
        2: ([("subscribe", 1)], 1),
        3: ([("text", 5), ("image", 1)], 1),
    }
    engine = create_engine(own_db_url)
    with engine.begin() as connection:
        for rid, (done, last) in history.items():
            ago = now - timedelta(hours=last)
            connection.execute(
                resident.insert().values(id=rid, openid=f"o{rid}", active=True, last_inbound_at=ago, created_at=now)
            )
            for n, (kind, hours) in enumerate(done):
                event = kind in ("click", "subscribe")
                at = now - timedelta(hours=hours)
                connection.execute(
                    inbound.insert().values(
                        dedupe_key=f"{rid}:{n}",
                        resident_id=rid,
                        msg_type="event" if event else kind,
                        event=kind if event else None,
                        payload={},
                        created_time=at,
                        received_at=at,
                        status="replied",
                    )
                )
    engine.dispose()

    upgrade(own_db_url)

    engine = create_engine(own_db_url)
    with Session(engine) as session:
        found = {r.id: (r.last_inbound_at, r.window_event_at) for r in session.scalars(sa.select(Resident))}
    engine.dispose()
    assert found == {
        1: (now - timedelta(hours=60), None),
        2: (None, None),
        3: (now - timedelta(hours=1), None),
    }
