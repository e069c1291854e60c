"""Bodies are limited before they are read, on every route, and /api authenticates before it reads one.

The big bodies go through a real uvicorn server on loopback (TestClient would hold the whole body in memory
itself); the memory is this process's, where the server runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.services import Services
from storage.access import AuditEntry
from tests.support.live_server import live_server, peak_memory_growth, send_streaming

MB = 1024 * 1024
ADMIN = {"Authorization": "Bearer admin-token-for-tests"}
WRONG_KEY = {"Authorization": "Bearer not-a-key-anyone-was-given"}


@pytest.fixture
def app(services: Services) -> FastAPI:
    return create_app(services.settings, services)


def audit_rows(services: Services) -> list[AuditEntry]:
    with services.sessions.begin() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


@pytest.mark.parametrize("path", ["/wecom?msg_signature=x&timestamp=1&nonce=n", "/api/activities"])
def test_a_300_mb_chunked_body_is_refused_with_memory_bounded(app: FastAPI, services: Services, path: str) -> None:
    headers = ADMIN if path.startswith("/api/") else {}
    with live_server(app) as live:
        assert send_streaming(live, path, total=1024, headers=headers).status != 413  # warm: imports, pool
        with peak_memory_growth() as growth:
            sent = send_streaming(live, path, total=300 * MB, headers=headers)
    assert growth[0] < 50 * MB, f"memory grew by {growth[0] / MB:.0f} MB"
    # Refused once the limit was passed, not after the whole body arrived.
    assert sent.body_bytes_sent < 30 * MB, f"{sent.body_bytes_sent / MB:.0f} MB sent before the answer"
    assert sent.status == 413, sent.head
    assert "connection: close" in sent.head.lower()
    if path.startswith("/api/"):
        # Authenticated and recorded before the body, then refused: the audit row says so.
        assert [row.status for row in audit_rows(services)][-1] == 413


def test_a_declared_300_mb_body_is_refused_before_any_of_it_is_read(app: FastAPI) -> None:
    with live_server(app) as live:
        sent = send_streaming(live, "/wecom", total=300 * MB, chunked=False)
    assert sent.status == 413 and sent.body_bytes_sent < 30 * MB


def call(app: FastAPI, path: str, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, list[str]]:
    """One request straight through ASGI; (status, what the app did with the body: one entry per read)."""
    reads: list[str] = []
    status = [0]

    async def receive() -> dict[str, Any]:
        index = len(reads)
        reads.append("read")
        return {"type": "http.request", "body": chunks[index], "more_body": index < len(chunks) - 1}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    return status[0], reads


@pytest.mark.parametrize("headers", [WRONG_KEY, {}], ids=["wrong key", "no key"])
def test_a_wrong_key_with_a_big_body_gets_401_without_reading_it(
    app: FastAPI, services: Services, headers: dict[str, str]
) -> None:
    status, reads = call(app, "/api/activities", {**headers, "content-type": "application/json"}, [b"[" * MB] * 300)
    assert status == 401
    assert reads == []  # not one byte of the body was asked for
    assert audit_rows(services) == []


def test_a_right_key_reads_the_body_after_authenticating(app: FastAPI, services: Services) -> None:
    status, reads = call(app, "/api/activities", {**ADMIN, "content-type": "application/json"}, [b"{}"])
    assert status == 422 and reads == ["read"]
    [row] = audit_rows(services)
    assert (row.actor, row.status) == ("admin", 422)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def chunked(size: int) -> Iterator[bytes]:
    """A body without Content-Length: httpx sends an iterator chunked."""
    for start in range(0, size, 8192):
        yield b"a" * min(8192, size - start)


@pytest.mark.parametrize("path", ["/wechat", "/wecom"])
def test_the_callbacks_keep_their_64_kib_limit(client: TestClient, path: str) -> None:
    limit = client.app.state.services.settings.max_body_bytes  # type: ignore[attr-defined]
    assert limit == 64 * 1024
    assert client.post(path, content=chunked(limit + 1)).status_code == 413
    assert client.post(path, content=b"a" * (limit + 1)).status_code == 413
    # At the limit the body reaches the callback, which refuses it for what it is, not for its size.
    assert client.post(path, content=chunked(limit)).status_code in (400, 403)


def test_the_api_limit_is_a_megabyte_and_its_refusal_a_problem(client: TestClient, services: Services) -> None:
    limit = services.settings.max_request_body_bytes
    assert limit == MB
    too_big = client.post("/api/activities", headers=ADMIN, content=chunked(limit + 1))
    assert too_big.status_code == 413 and set(too_big.json()) == {"detail"}
    declared = client.post("/api/activities", headers=ADMIN, content=b" " * (limit + 1))
    assert declared.status_code == 413
    # Under the limit the body is read and judged by the route: not JSON, so 422 (or 400), never 413.
    assert client.post("/api/activities", headers=ADMIN, content=chunked(limit - 1)).status_code in (400, 422)


def test_routes_without_a_body_of_their_own_are_limited_too(client: TestClient) -> None:
    assert client.request("GET", "/healthz", content=b"a" * (2 * MB)).status_code == 413
