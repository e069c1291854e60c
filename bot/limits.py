"""Nothing reads a request body before it may: what is refused from the request line and headers alone.

One pure ASGI middleware in front of every route. A body is counted as it streams in, whether declared
(Content-Length) or chunked: past its route's limit the request is answered 413 and the connection closed,
whatever the route was doing with it, so no process ever holds more than the limit and one chunk of it.
Before any of the body is read, /api authenticates (and writes its audit row) from the headers, and in
production a plaintext WeChat callback (its signature does not cover the body) is refused unless
SHEGONG_WECHAT_ALLOW_PLAINTEXT says otherwise.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.api.deps import authenticate_before_body
from bot.settings import Settings

log = logging.getLogger(__name__)

# The callbacks take WeChat's and WeCom's small XML envelopes; everything else has the general limit.
CALLBACK_PATHS = frozenset({"/wechat", "/wecom"})


class BodyTooLarge(Exception):
    """Raised from `receive` once a body passes its limit; whatever the route makes of it, the answer is 413."""


def body_limit(settings: Settings, path: str) -> int:
    """How many bytes of body a request to this path may carry."""
    return settings.max_body_bytes if path in CALLBACK_PATHS else settings.max_request_body_bytes


def plaintext_refused(settings: Settings, method: str, path: str, encrypt_type: str) -> bool:
    """A plaintext WeChat message in production, where only the encrypted modes are accepted unless allowed."""
    if settings.is_development or settings.wechat_allow_plaintext:
        return False
    return method == "POST" and path == "/wechat" and encrypt_type != "aes"


# An early refusal leaves the body unread: closing the connection stops the client sending the rest.
_CLOSE = {"Connection": "close"}


def _too_large(path: str, limit: int) -> Response:
    if path.startswith("/api/"):
        return JSONResponse({"detail": f"the body is larger than {limit} bytes"}, status_code=413, headers=_CLOSE)
    return PlainTextResponse("payload too large", status_code=413, headers=_CLOSE)


def _declared_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


class RequestGuard:
    """Limits every body as it is read, and refuses what needs no body to refuse before reading any."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings: Settings = scope["app"].state.services.settings
        path = str(scope["path"])
        refusal = await self._refusal(settings, scope, path)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        limit = body_limit(settings, path)
        declared = _declared_length(Headers(scope=scope))
        if declared is not None and declared > limit:
            await _too_large(path, limit)(scope, receive, send)
            return

        received = 0
        exceeded = started = False

        async def counted() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def unless_exceeded(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the route's answer to a body it never got whole is not sent
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, unless_exceeded)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            log.warning("request body over %d bytes refused: %s %s", limit, scope["method"], path)
            await _too_large(path, limit)(scope, receive, send)

    async def _refusal(self, settings: Settings, scope: Scope, path: str) -> Response | None:
        method = str(scope["method"])
        query = dict(parse_qsl(bytes(scope.get("query_string", b"")).decode("latin-1")))
        if plaintext_refused(settings, method, path, query.get("encrypt_type", "raw")):
            log.warning("wechat callback refused: plaintext mode is off in production")
            return PlainTextResponse("forbidden", status_code=403, headers=_CLOSE)
        if path.startswith("/api/"):
            try:
                await authenticate_before_body(Request(scope))
            except HTTPException as exc:
                headers = {**(exc.headers or {}), **_CLOSE}
                return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
        return None
