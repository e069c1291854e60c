"""`shegong serve`: the app uvicorn runs in each process, how many processes, and what it refuses to serve."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from uvicorn.importer import import_from_string

from bot.cli import main as cli
from bot.logs import UVICORN_LOG_CONFIG
from bot.settings import get_settings
from storage.migrate import expected_revisions
from tests.bot.test_settings import REAL_SECRETS
from tests.support.databases import fresh_sqlite


@pytest.fixture(autouse=True)
def _logging_and_file_mode_restored() -> Iterator[None]:
    """`serve` configures the process's logging and, in production, its umask: put both back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    loggers = {name: logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "uvicorn.access")}
    saved = {name: (lg.handlers[:], lg.propagate, lg.filters[:]) for name, lg in loggers.items()}
    mask = os.umask(0o022)
    os.umask(mask)
    yield
    os.umask(mask)
    root.handlers[:], root.level = handlers, level
    for name, lg in loggers.items():
        lg.handlers[:], lg.propagate, lg.filters[:] = saved[name]


def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> None:
    for name in list(os.environ):
        if name.startswith("SHEGONG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SHEGONG_DATABASE_URL", database_url)
    monkeypatch.setenv("SHEGONG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SHEGONG_EMBEDDED_WORKER", "false")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, _sqlite_template: Path) -> Iterator[Path]:
    clean_environment(monkeypatch, tmp_path, fresh_sqlite(_sqlite_template, tmp_path / "serve.db"))
    yield tmp_path
    get_settings.cache_clear()


def serve(monkeypatch: pytest.MonkeyPatch, *args: str) -> dict[str, Any]:
    """Run `shegong serve` up to the point where uvicorn would start; what uvicorn was asked to do."""
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    result = CliRunner().invoke(cli.app, ["serve", *args])
    assert result.exit_code == 0, result.output
    [(app, options)] = calls
    return {"app": app, "output": result.output, **options}


def refused(monkeypatch: pytest.MonkeyPatch) -> str:
    """Run `shegong serve` expecting a refusal before uvicorn starts; what it said."""
    import uvicorn

    calls: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(app))
    result = CliRunner().invoke(cli.app, ["serve"])
    assert result.exit_code == 1 and calls == [], result.output
    return result.output


def test_serve_runs_the_requested_number_of_processes(monkeypatch: pytest.MonkeyPatch, environment: Path) -> None:
    started = serve(monkeypatch, "--workers", "3", "--port", "8123")
    # Several processes need an import string uvicorn can import in each of them, not an app object.
    assert isinstance(started["app"], str) and started["factory"] is True
    assert (started["workers"], started["port"], started["access_log"]) == (3, 8123, False)


def test_serve_keeps_one_process_unless_asked(monkeypatch: pytest.MonkeyPatch, environment: Path) -> None:
    assert serve(monkeypatch)["workers"] == 1
    result = CliRunner().invoke(cli.app, ["serve", "--workers", "0"])
    assert result.exit_code != 0


def test_each_process_builds_the_webhook_with_the_secrets_serve_kept(
    monkeypatch: pytest.MonkeyPatch, environment: Path
) -> None:
    started = serve(monkeypatch, "--workers", "2")
    app = import_from_string(started["app"])()
    assert isinstance(app, FastAPI)
    # The token `serve` printed (and kept in the data dir) is the one every process checks.
    assert f"WeChat token: {app.state.services.settings.wechat_token}\n" in started["output"]
    client = TestClient(app)
    assert client.get("/healthz").text == "ok"
    # Unsigned: refused by the real webhook.
    assert client.post("/wechat?timestamp=1", content=b"<xml/>").status_code == 403
    app.state.services.close()


def test_serve_keeps_its_own_log_handler(monkeypatch: pytest.MonkeyPatch, environment: Path) -> None:
    started = serve(monkeypatch)
    # uvicorn's default dictConfig would install its own handlers and format over ours.
    assert started["log_config"] == UVICORN_LOG_CONFIG


def test_serve_refuses_a_database_that_was_never_migrated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_environment(monkeypatch, tmp_path, f"sqlite:///{tmp_path / 'never.db'}")
    said = refused(monkeypatch)
    assert said.strip() == "the database was never migrated; run `shegong migrate` first"


def test_serve_refuses_a_database_behind_the_code(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str) -> None:
    clean_environment(monkeypatch, tmp_path, db_url)
    newest = max(expected_revisions())
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM alembic_version WHERE version_num = :v"), {"v": newest})
    try:
        said = refused(monkeypatch)
        assert f"missing {newest}" in said and "run `shegong migrate` first" in said
        assert len(said.strip().splitlines()) == 1
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": newest})
        engine.dispose()
    # Brought to the newest schema, it serves.
    assert serve(monkeypatch)["workers"] == 1


def test_serve_refuses_a_database_it_cannot_reach(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_environment(monkeypatch, tmp_path, "postgresql+psycopg://shegong@127.0.0.1:9/shegong?connect_timeout=2")
    said = refused(monkeypatch)
    assert said.startswith("the database cannot be reached (OperationalError") and "shegong migrate" in said


def production_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    database = tmp_path / "prod" / "shegong.db"
    clean_environment(monkeypatch, tmp_path, f"sqlite:///{database}")
    monkeypatch.setenv("SHEGONG_ENV", "production")
    for name, value in REAL_SECRETS.items():
        monkeypatch.setenv(f"SHEGONG_{name.upper()}", value)
    return database


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def test_production_creates_its_files_for_its_owner_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, knowledge_index_built_once: None
) -> None:
    database = production_environment(monkeypatch, tmp_path)
    migrated = CliRunner().invoke(cli.app, ["migrate"])
    assert migrated.exit_code == 0, migrated.output
    started = serve(monkeypatch)
    app = import_from_string(started["app"])()
    try:
        with TestClient(app) as client:  # start-up loads the knowledge index
            assert client.get("/readyz").status_code == 200
            index = app.state.services.live_knowledge.index
        index.save(tmp_path / "var" / "index-copy")
    finally:
        app.state.services.close()
    created = [database, *database.parent.glob("shegong.db-*")]
    created += [p for p in (tmp_path / "var").rglob("*") if p.is_file()]
    assert len(created) > 3
    assert [p for p in created if not private(p)] == []


def test_production_warns_when_plaintext_wechat_is_allowed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    production_environment(monkeypatch, tmp_path)
    assert CliRunner().invoke(cli.app, ["migrate"]).exit_code == 0
    assert "PLAINTEXT" not in serve(monkeypatch)["output"]
    monkeypatch.setenv("SHEGONG_WECHAT_ALLOW_PLAINTEXT", "true")
    get_settings.cache_clear()
    said = serve(monkeypatch)["output"]
    assert "WARNING" in said and "SHEGONG_WECHAT_ALLOW_PLAINTEXT is on" in said
