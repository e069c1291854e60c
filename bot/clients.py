"""Clients for the WeChat official-account API and the WeCom (企业微信) app API.

Tokens live in the database, shared by every worker, and are refreshed by one worker at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from bot.settings import Settings
from storage import repositories as repo
from storage.models import utcnow

log = logging.getLogger(__name__)

# WeChat's error codes: these will never succeed on retry.
FINAL_ERRORS = {45015, 45047, 40003, 43004, 43019, 60011, 60020, 81013, 40029}
# Busy and frequency limit: worth a few retries with backoff.
RETRYABLE_ERRORS = {-1, 45009, 45033}
# The token is no longer valid: fetch a fresh one once, then retry once.
TOKEN_ERRORS = {40001, 40014, 42001}

TOKEN_MARGIN = timedelta(minutes=5)

# The request never left (no connection, no free connection): safe to send again.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# A gateway timeout: the API behind it may have acted on the request.
UNKNOWN_STATUSES = {504}
# WeCom keeps the JSON of a send with enable_duplicate_check this long at most (4 hours).
MAX_DUPLICATE_CHECK_SECONDS = 4 * 3600
# One request's timeout applies to each phase (pool, connect, write, read): at most four of them.
PHASES_PER_REQUEST = 4


def worst_case_send_seconds(timeout: float) -> float:
    """How long one send can take at most: no request starts after `send_budget_seconds`, and one started
    just before it may still need a token and then the send itself (two requests of four phases each)."""
    return send_budget_seconds(timeout) + 2 * PHASES_PER_REQUEST * timeout


def send_budget_seconds(timeout: float) -> float:
    """Time a send may keep starting requests (token, send, retries of a busy answer)."""
    return 3 * timeout


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def final(self) -> bool:
        return self.code in FINAL_ERRORS


class OutcomeUnknown(Exception):
    """The request went out and no answer came back that we can read (a read timeout, a dropped
    connection, a gateway timeout): the message may have been delivered. Never resent blindly."""


class OutOfTime(Exception):
    """The send's time budget ran out before the next request started: nothing more was sent."""


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, ApiError):
        return exc.code in RETRYABLE_ERRORS
    # Token fetches are safe to repeat; a message post only when it never left (see _post_once).
    return isinstance(exc, httpx.TransportError)


class SharedToken:
    """An access token kept in the api_token table; the row lock makes refreshing one-at-a-time."""

    _process_lock = threading.Lock()  # SQLite has no row locks; this covers the embedded single process.

    def __init__(self, sessions: sessionmaker[Session], name: str, fetch: Callable[[bool], tuple[str, int]]) -> None:
        self.sessions = sessions
        self.name = name
        self.fetch = fetch

    def get(self, *, rejected: str | None = None, now: datetime | None = None) -> str:
        """The shared token; a new one when there is none, it is near its expiry, or it is `rejected`
        (the API just called it invalid) and no other worker has replaced it yet."""
        now = now or utcnow()
        if rejected is None:
            with self.sessions.begin() as session:
                row = repo.peek_token(session, name=self.name)
                if row and row.value and row.expires_at and row.expires_at - TOKEN_MARGIN > now:
                    return row.value
        with self._process_lock, self.sessions.begin() as session:
            row = repo.lock_token(session, name=self.name)
            # Someone else may have refreshed it while we waited for the lock.
            fresh = row.value and row.expires_at and row.expires_at - TOKEN_MARGIN > now
            if fresh and row.value != rejected:
                return str(row.value)
            token, expires_in = self.fetch(rejected is not None)
            row.value = token
            row.expires_at = now + timedelta(seconds=expires_in)
            row.updated_at = now
            return token


class _Client:
    token: SharedToken

    def __init__(self, base: str, http: httpx.Client | None, timeout: float) -> None:
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.http = http or httpx.Client(timeout=timeout)

    def _check(self, data: dict[str, Any]) -> dict[str, Any]:
        code = int(data.get("errcode", 0) or 0)
        if code != 0:
            raise ApiError(code, str(data.get("errmsg", "")))
        return data

    def post(
        self, path: str, body: dict[str, Any], *, budget: float | None = None, idempotent: bool = False
    ) -> dict[str, Any]:
        """POST with the shared token: retry busy answers and requests that never left, refresh an invalid
        token once. Unless the call is `idempotent` (a QR code: asking twice does no harm), raises
        OutcomeUnknown, never retrying, when the request may have arrived. With a `budget` (seconds), no
        request starts once it is spent (OutOfTime): the outbox's lease holds."""
        deadline = None if budget is None else time.monotonic() + budget

        def in_time() -> None:
            if deadline is not None and time.monotonic() >= deadline:
                raise OutOfTime(f"the send's {budget:.0f} s budget ran out before {path}")

        for attempt in Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(3),
            wait=wait_exponential(multiplier=0.2, max=2),
            reraise=True,
        ):
            with attempt:
                in_time()
                token = self.token.get()
                try:
                    in_time()
                    return self._post_once(path, body, token, idempotent)
                except ApiError as exc:
                    if exc.code not in TOKEN_ERRORS:
                        raise
                    in_time()
                    fresh = self.token.get(rejected=token)
                    in_time()
                    return self._post_once(path, body, fresh, idempotent)
        raise AssertionError("unreachable")

    def _post_once(self, path: str, body: dict[str, Any], token: str, idempotent: bool) -> dict[str, Any]:
        try:
            response = self.http.post(f"{self.base}{path}", params={"access_token": token}, json=body)
        except NOT_SENT:
            raise
        except httpx.TransportError as exc:
            if idempotent:
                raise  # retried like a request that never left
            raise OutcomeUnknown(f"{path}: {exc!r}") from exc
        if response.status_code in UNKNOWN_STATUSES:
            raise OutcomeUnknown(f"{path}: HTTP {response.status_code}")
        response.raise_for_status()
        try:
            data = response.json()
        except ValueError as exc:
            raise OutcomeUnknown(f"{path}: an answer that is not JSON") from exc
        return self._check(data)


class WeChatClient(_Client):
    """Official account: stable_token, customer-service and template messages."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], http: httpx.Client | None = None) -> None:
        super().__init__(settings.wechat_api_base, http, settings.api_timeout_seconds)
        self.settings = settings
        self.token = SharedToken(sessions, "wechat", self._fetch_token)

    def _fetch_token(self, force: bool) -> tuple[str, int]:
        # stable_token returns the same token while it is valid, so several workers cannot
        # invalidate each other's tokens the way /cgi-bin/token would.
        response = self.http.post(
            f"{self.base}/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self.settings.wechat_app_id,
                "secret": self.settings.wechat_app_secret,
                "force_refresh": force,
            },
        )
        response.raise_for_status()
        data = self._check(response.json())
        return str(data["access_token"]), int(data.get("expires_in", 7200))

    def send_custom(self, openid: str, message: dict[str, Any], *, budget: float | None = None) -> None:
        self.post("/cgi-bin/message/custom/send", {"touser": openid, **message}, budget=budget)

    def send_template(self, openid: str, template: dict[str, Any], *, budget: float | None = None) -> None:
        self.post("/cgi-bin/message/template/send", {"touser": openid, **template}, budget=budget)

    def create_scene_qr(self, scene: str, expire_seconds: int) -> str:
        """A temporary QR code carrying `scene` (at most 30 days): scanning it sends us a SCAN event with
        that EventKey, or a subscribe event with "qrscene_" + scene. Returns the text to draw as the QR."""
        data = self.post(
            "/cgi-bin/qrcode/create",
            {
                "expire_seconds": expire_seconds,
                "action_name": "QR_STR_SCENE",
                "action_info": {"scene": {"scene_str": scene}},
            },
            idempotent=True,
        )
        url = str(data.get("url") or "")
        if not url:
            raise ApiError(-1, "qrcode/create answered without a url")
        return url


class WeComClient(_Client):
    """WeCom app messages to community workers."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], http: httpx.Client | None = None) -> None:
        super().__init__(settings.wecom_api_base, http, settings.api_timeout_seconds)
        self.settings = settings
        self.token = SharedToken(sessions, "wecom", self._fetch_token)

    def _fetch_token(self, force: bool) -> tuple[str, int]:
        response = self.http.get(
            f"{self.base}/cgi-bin/gettoken",
            params={"corpid": self.settings.wecom_corp_id, "corpsecret": self.settings.wecom_secret},
        )
        response.raise_for_status()
        data = self._check(response.json())
        return str(data["access_token"]), int(data.get("expires_in", 7200))

    def send_app_message(
        self,
        userid: str,
        message: dict[str, Any],
        *,
        duplicate_check_seconds: int | None = None,
        budget: float | None = None,
    ) -> dict[str, Any]:
        """Send an app message; WeCom's answer (an interactive card's carries its response_code). With `duplicate_check_seconds`, WeCom drops a second send of the same JSON
        within that many seconds, so a send whose fate is unknown can be repeated safely inside it."""
        body = {"touser": userid, "agentid": int(self.settings.wecom_agent_id or 0), **message}
        if duplicate_check_seconds is not None:
            interval = max(1, min(duplicate_check_seconds, MAX_DUPLICATE_CHECK_SECONDS))
            body |= {"enable_duplicate_check": 1, "duplicate_check_interval": interval}
        data = self.post("/cgi-bin/message/send", body, budget=budget)
        if data.get("invaliduser"):
            raise ApiError(81013, f"invalid user {data['invaliduser']}")
        return data

    def update_template_card(
        self, userid: str, response_code: str, change: dict[str, Any], *, budget: float | None = None
    ) -> None:
        """Change a template card already sent (`change`: {"button": ...} or {"template_card": ...}); the
        response_code is good once, within 72 hours."""
        body = {
            "userids": [userid],
            "agentid": int(self.settings.wecom_agent_id or 0),
            "response_code": response_code,
            **change,
        }
        self.post("/cgi-bin/message/update_template_card", body, budget=budget)


def scene_qr_maker(settings: Settings, sessions: sessionmaker[Session]) -> Callable[[str, int], str] | None:
    """What draws check-in QR codes as WeChat scene codes, or None without an official account's
    credentials (development): the QR then carries the text to type."""
    if not (settings.wechat_app_id and settings.wechat_app_secret):
        return None
    return WeChatClient(settings, sessions).create_scene_qr
