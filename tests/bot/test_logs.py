"""Logs: no resident's OpenID, signature or nonce in any line, one line per request id, no flood in an outage."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from bot.app import create_app
from bot.logs import OncePerInterval, RedactQuery, RequestId, RequestIdMiddleware, configure, redact_path, request_id
from bot.services import Services
from storage.db import make_engine
from storage.models import Resident
from tests.conftest import AES_KEY, APP_ID, TOKEN, make_settings
from tests.support.live_server import live_server
from tests.support.wechat import FakeWeChat


def test_sensitive_query_values_are_replaced_and_the_rest_kept() -> None:
    path = "/wechat?signature=abc123&timestamp=1764600000&nonce=n0nce&openid=oABCDEF-resident&encrypt_type=aes"
    redacted = redact_path(path)
    for secret in ("abc123", "1764600000", "n0nce", "oABCDEF-resident"):
        assert secret not in redacted
    assert redacted.startswith("/wechat?signature=-&timestamp=-&nonce=-&openid=-")
    assert "encrypt_type=aes" in redacted
    assert redact_path("/api/tickets?status=open") == "/api/tickets?status=open"
    assert redact_path("/healthz") == "/healthz"


def test_the_access_log_line_carries_no_openid(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.access")
    logger.addFilter(RedactQuery())
    with caplog.at_level(logging.INFO, logger="test.access"):
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", "/wechat?openid=oSECRET&nonce=x", "1.1", 200)
    assert "oSECRET" not in caplog.text
    assert "POST /wechat?openid=-&nonce=-" in caplog.text


def test_an_outage_logs_one_line_per_kind_of_error_per_interval() -> None:
    now = [0.0]
    limiter = OncePerInterval(interval=60, clock=lambda: now[0])

    def record(msg: str, level: int = logging.ERROR) -> logging.LogRecord:
        return logging.LogRecord("bot.webhook", level, __file__, 1, msg, None, None)

    passed = [limiter.filter(record("database unavailable")) for _ in range(500)]
    assert passed.count(True) == 1
    assert limiter.filter(record("another error"))  # a different kind still shows
    assert limiter.filter(record("fine", logging.INFO))  # information is not limited
    now[0] = 61.0
    again = record("database unavailable")
    assert limiter.filter(again)
    assert "499 more like it" in str(again.msg)


def test_every_request_gets_an_id_in_its_logs_and_its_answer(caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        logging.getLogger("test.request").warning("handling ping")
        return {"id": request_id.get()}

    app.add_middleware(RequestIdMiddleware)
    handler_filter = RequestId()
    with TestClient(app) as client, caplog.at_level(logging.WARNING, logger="test.request"):
        caplog.handler.addFilter(handler_filter)
        first = client.get("/ping")
        given = client.get("/ping", headers={"X-Request-ID": "abc-123"})
        hostile = client.get("/ping", headers={"X-Request-ID": "bad id\r\nx"})
        caplog.handler.removeFilter(handler_filter)
    assert first.headers["x-request-id"] == first.json()["id"] != "-"
    assert given.json()["id"] == "abc-123"
    assert hostile.json()["id"] not in ("bad id\r\nx", "-")
    assert [r.request_id for r in caplog.records] == [first.json()["id"], "abc-123", hostile.json()["id"]]  # type: ignore[attr-defined]


@pytest.fixture
def configured() -> Iterator[io.StringIO]:
    """The process's logging as `shegong serve` sets it up, written to a buffer; put back afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    access = logging.getLogger("uvicorn.access")
    access_saved = access.handlers[:], access.propagate, access.filters[:]
    buffer = io.StringIO()
    configure(stream=buffer)
    yield buffer
    root.handlers[:], root.level = saved
    access.handlers[:], access.propagate, access.filters[:] = access_saved


def broken_database(db_url: str, tmp_path: Path) -> str:
    """The same kind of database, somewhere nothing answers: the outage."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        (tmp_path / "gone").mkdir()
        return f"sqlite:///{tmp_path / 'gone'}"
    return url.set(port=9).render_as_string(hide_password=False)


def test_an_outage_is_one_line_per_error_class_not_a_traceback_per_request(
    configured: io.StringIO, db_url: str, tmp_path: Path
) -> None:
    services = Services(make_settings(broken_database(db_url, tmp_path), tmp_path))
    wechat = FakeWeChat(TOKEN, APP_ID, AES_KEY)
    client = TestClient(create_app(services.settings, services))
    try:
        answers = []
        for number in range(30):
            path, body = wechat.request(wechat.text("oOUTAGE-resident", f"第{number}条"))
            answers.append(client.post(path, content=body, headers={"X-Request-ID": f"req{number}"}))
    finally:
        services.close()
    assert {a.status_code for a in answers} == {503}  # WeChat retries: nothing is lost
    lines = configured.getvalue().splitlines()
    outage = [line for line in lines if "database unavailable" in line]
    assert len(outage) == 1, lines
    assert "OperationalError" in outage[0] and "[req0]" in outage[0]
    assert "Traceback" not in configured.getvalue()
    assert "oOUTAGE-resident" not in configured.getvalue()


def test_the_access_log_names_no_resident_and_carries_the_request_id(
    configured: io.StringIO, services: Services
) -> None:
    wechat = FakeWeChat(TOKEN, APP_ID, AES_KEY)
    path, body = wechat.request(wechat.event("oACCESS-resident", "CLICK", "HELP"))
    path += "&openid=oACCESS-resident"
    query = dict(parse_qsl(path.split("?", 1)[1]))
    app = create_app(services.settings, services)
    with live_server(app, access_log=True) as live, httpx.Client(base_url=f"http://{live.host}:{live.port}") as http:
        answer = http.post(path, content=body, headers={"X-Request-ID": "access-1"})
    assert answer.status_code in (200, 503)
    written = configured.getvalue()
    [line] = [line for line in written.splitlines() if "uvicorn.access" in line]
    assert "[access-1]" in line and "POST /wechat?" in line
    for name in ("openid", "signature", "msg_signature", "timestamp", "nonce"):
        assert query[name] not in written, name


def test_database_errors_carry_no_bound_parameters(db_url: str) -> None:
    engine = make_engine(db_url)
    secret = "oPARAMETER-resident-openid"
    try:
        # A community that does not exist: the database names the key, SQLAlchemy would add every parameter.
        with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
            conn.execute(insert(Resident).values(openid=secret, community_id=987654))
    finally:
        engine.dispose()
    assert "parameters hidden" in str(caught.value)
    assert secret not in str(caught.value)


def test_the_request_id_follows_into_the_handler_threads(services: Services) -> None:
    executor = create_app(services.settings, services).state.executor

    async def in_request() -> str:
        request_id.set("thread-1")
        return str(await asyncio.get_running_loop().run_in_executor(executor, request_id.get))

    assert asyncio.run(in_request()) == "thread-1"
    executor.shutdown()


def test_a_logged_database_error_does_not_quote_the_row() -> None:
    import io

    from sqlalchemy.exc import IntegrityError

    from bot.logs import handler

    stream = io.StringIO()
    logger = logging.getLogger("test.detail")
    logger.addHandler(handler(stream))
    logger.propagate = False
    try:
        raise IntegrityError(
            "INSERT INTO resident",
            {},
            Exception(
                "duplicate key value violates unique constraint\nDETAIL:  Key (openid)=(oSECRET123) already exists."
            ),
        )
    except IntegrityError:
        logger.exception("could not add a resident")
    finally:
        logger.handlers.clear()
    assert "could not add a resident" in stream.getvalue() and "duplicate key" in stream.getvalue()
    assert "oSECRET123" not in stream.getvalue()
