"""`shegong serve`: the app uvicorn runs in each process, and how many processes it runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from uvicorn.importer import import_from_string

from bot.cli import main as cli
from bot.settings import get_settings


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith("SHEGONG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SHEGONG_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    monkeypatch.setenv("SHEGONG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SHEGONG_EMBEDDED_WORKER", "false")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
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
