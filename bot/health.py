"""/healthz and /readyz: can this process serve (its database answers in time), and should it get traffic
(the schema is the one the code expects and the knowledge index is loaded)?

A stalled database makes a check wait, not fail, so the check has its own short timeout; only one check
runs at a time, in a thread of its own, and every probe waits on it: probes every few seconds against a
database that never answers do not pile up threads or connections.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.services import Services
from storage.migrate import schema_problem

log = logging.getLogger(__name__)


class DatabaseCheck:
    """Asks the database for its schema revision (a round trip), one check at a time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._running: Future[str | None] | None = None

    def _check(self, future: Future[str | None]) -> None:
        future.set_running_or_notify_cancel()  # from now on a probe that gives up cannot cancel it
        try:
            with self._engine.connect() as connection:
                future.set_result(schema_problem(connection))
        except BaseException as exc:  # handed to the waiting probe, which decides what it means
            future.set_exception(exc)

    async def schema(self, timeout: float) -> tuple[bool, str | None]:
        """(reachable, what is wrong with the schema or None), the database given `timeout` seconds."""
        with self._lock:
            future = self._running
            if future is None or future.done():
                future = self._running = Future()
                threading.Thread(target=self._check, args=(future,), name="health-check", daemon=True).start()
        try:
            return True, await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), timeout)
        except TimeoutError:
            log.warning("health check: the database did not answer within %.1f s", timeout)
        except SQLAlchemyError as exc:
            log.warning("health check: the database is unreachable (%s)", type(exc).__name__)
        return False, None


def include_health(app: FastAPI, services: Services) -> None:
    check = DatabaseCheck(services.engine)
    timeout = services.settings.health_timeout_seconds

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> PlainTextResponse:
        reachable, _ = await check.schema(timeout)
        if not reachable:
            return PlainTextResponse("database unreachable", status_code=503)
        return PlainTextResponse("ok")

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> PlainTextResponse:
        reachable, problem = await check.schema(timeout)
        if not reachable:
            return PlainTextResponse("database unreachable", status_code=503)
        if problem is not None:
            return PlainTextResponse(f"{problem}: run `shegong migrate`", status_code=503)
        if services.live_knowledge.version < 0:
            return PlainTextResponse("knowledge index not loaded yet", status_code=503)
        return PlainTextResponse("ready")
