"""/healthz answers 503 when the database cannot answer in time; /readyz when the schema or the index is not ready."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from bot.app import create_app
from bot.services import Services
from storage.migrate import expected_revisions
from tests.conftest import make_settings

TIMEOUT = 0.5


def client_for(services: Services) -> TestClient:
    """A client without the app's start-up: nothing warmed, so a test decides what is loaded."""
    return TestClient(create_app(services.settings, services))


@pytest.fixture
def services(db_url: str, tmp_path: Path) -> Iterator[Services]:
    built = Services(make_settings(db_url, tmp_path, health_timeout_seconds=TIMEOUT))
    yield built
    built.close()


def unreachable(db_url: str, tmp_path: Path) -> str:
    """The same kind of database, somewhere nothing answers."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        (tmp_path / "not-a-file").mkdir()
        return f"sqlite:///{tmp_path / 'not-a-file'}"
    return url.set(port=9).render_as_string(hide_password=False)  # discard: nothing listens


def test_healthz_is_ok_while_the_database_answers(services: Services) -> None:
    response = client_for(services).get("/healthz")
    assert (response.status_code, response.text) == (200, "ok")


def test_healthz_is_503_when_the_database_is_unreachable(db_url: str, tmp_path: Path) -> None:
    broken = Services(make_settings(unreachable(db_url, tmp_path), tmp_path, health_timeout_seconds=TIMEOUT))
    try:
        response = client_for(broken).get("/healthz")
        assert response.status_code == 503 and "database" in response.text
        assert client_for(broken).get("/readyz").status_code == 503
    finally:
        broken.close()


def test_healthz_is_503_within_its_timeout_when_every_connection_is_stuck(services: Services) -> None:
    """A stall: every connection of the pool is held by a request that does not finish."""
    pool = services.engine.pool
    capacity = pool.size() + max(pool._max_overflow, 0)  # type: ignore[attr-defined]
    client = client_for(services)
    with ExitStack() as held:
        for _ in range(capacity):
            held.enter_context(services.engine.connect())
        started = time.monotonic()
        stalled = [client.get("/healthz") for _ in range(5)]
        assert [r.status_code for r in stalled] == [503] * 5
        assert time.monotonic() - started < 5 * TIMEOUT + 2
        # Five probes against a stalled database: one check waiting, not five threads.
        assert sum(t.name == "health-check" for t in threading.enumerate()) <= 1
    deadline = time.monotonic() + 5
    while client.get("/healthz").status_code != 200:
        assert time.monotonic() < deadline, "healthz did not recover once the connections were released"
        time.sleep(0.1)


def test_healthz_is_503_while_postgresql_holds_a_lock(services: Services, db_url: str) -> None:
    if make_url(db_url).get_backend_name() != "postgresql":
        pytest.skip("SQLite's readers are never blocked by a writer (WAL)")
    locker = sa.create_engine(db_url)
    client = client_for(services)
    try:
        with locker.begin() as conn:
            conn.execute(sa.text("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE"))
            assert client.get("/healthz").status_code == 503
        deadline = time.monotonic() + 5
        while client.get("/healthz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        locker.dispose()


def test_readyz_waits_for_the_knowledge_index(services: Services, knowledge_index_built_once: None) -> None:
    cold = client_for(services).get("/readyz")
    assert cold.status_code == 503 and "knowledge index" in cold.text
    with TestClient(create_app(services.settings, services)) as warm:  # start-up loads the index
        response = warm.get("/readyz")
    assert (response.status_code, response.text) == (200, "ready")


def test_readyz_names_shegong_migrate_when_the_schema_is_behind(services: Services) -> None:
    services.live_knowledge.warm_up()
    newest = max(expected_revisions())
    with services.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM alembic_version WHERE version_num = :v"), {"v": newest})
    try:
        response = client_for(services).get("/readyz")
        assert response.status_code == 503
        assert f"missing {newest}" in response.text and "shegong migrate" in response.text
        assert client_for(services).get("/healthz").status_code == 200  # alive, only not ready
    finally:
        with services.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": newest})


def test_readyz_on_a_database_that_was_never_migrated(tmp_path: Path) -> None:
    empty = Services(make_settings(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path, health_timeout_seconds=TIMEOUT))
    try:
        response = client_for(empty).get("/readyz")
        assert response.status_code == 503 and "never migrated" in response.text
    finally:
        empty.close()
