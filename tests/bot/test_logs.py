"""Logs: no resident's OpenID, signature or nonce in any line, one line per request id, no flood in an outage."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.logs import OncePerInterval, RedactQuery, RequestId, RequestIdMiddleware, redact_path, request_id


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
