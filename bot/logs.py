"""Logging for every process: one line per event with its request id, and nothing that identifies a resident.

Residents' OpenIDs, WeChat's signatures and nonces ride in the callback's query string, and uvicorn's
access log writes the whole path; `RedactQuery` replaces their values before the line is formatted. During
an outage the same error would otherwise be logged by every request: `OncePerInterval` lets one line per
logger, level, message and error class through each interval and counts the rest, and `OneLineFormatter`
writes a lost database connection as one line, not a traceback (a bug still gets its traceback).
A request's id follows it into worker threads through `ContextThreadPoolExecutor` (asyncio's
`run_in_executor` does not carry context variables over by itself).
"""

from __future__ import annotations

import contextvars
import logging
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlencode

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# Query parameters whose values never reach a log: who sent it, and what would let a request be replayed.
SENSITIVE_PARAMS = frozenset(
    {"openid", "signature", "msg_signature", "nonce", "timestamp", "echostr", "code", "state", "token", "access_token"}
)
REDACTED = "-"

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def redact_path(path: str) -> str:
    """The path with the values of sensitive query parameters replaced (names kept, so the line still says what came)."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    pairs = [(k, REDACTED if k.lower() in SENSITIVE_PARAMS else v) for k, v in parse_qsl(query, keep_blank_values=True)]
    return f"{base}?{urlencode(pairs, safe='-')}"


class RedactQuery(logging.Filter):
    """For uvicorn's access log, whose arguments are (client, method, path, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


class RequestId(logging.Filter):
    """Adds the current request's id to every record, so the lines of one request can be found together."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class OncePerInterval(logging.Filter):
    """One record per (logger, level, message template, error class) per interval; the next one says how many
    were held back."""

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, int, str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        error = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        key = (record.name, record.levelno, str(record.msg), error)
        now = self.clock()
        with self._lock:
            last, held = self._seen.get(key, (float("-inf"), 0))
            if now - last < self.interval:
                self._seen[key] = (last, held + 1)
                return False
            self._seen[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} (and {held} more like it in the last {self.interval:.0f} s)"
        return True


# Errors that mean "the database (or the network to it) is not there", not "the code is wrong".
OUTAGES: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeoutError,
    ConnectionError,
    TimeoutError,
)


class OneLineFormatter(logging.Formatter):
    """Our format; a record whose exception is an outage gets the error's class and first line, not a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        kind, error = (record.exc_info or (None, None, None))[:2]
        if kind is None or not issubclass(kind, OUTAGES):
            return super().format(record)
        lines = str(error).strip().splitlines()
        short = logging.makeLogRecord(record.__dict__)
        short.msg = f"{record.getMessage()} ({kind.__name__}: {lines[0] if lines else 'no detail'})"
        short.args, short.exc_info, short.exc_text = None, None, None
        return super().format(short)

    def formatException(self, ei: Any) -> str:
        # PostgreSQL's DETAIL line quotes the row's values ("Key (openid)=(o...) already exists").
        return "\n".join(line for line in super().formatException(ei).splitlines() if not _DETAIL.match(line))


_DETAIL = re.compile(r"^\s*(DETAIL|CONTEXT):")


def handler(stream: IO[str] | None = None) -> logging.Handler:
    """The handler every shegong process logs through (a test attaches one to read the lines)."""
    made = logging.StreamHandler(stream)
    made.setFormatter(OneLineFormatter(FORMAT))
    made.addFilter(RequestId())
    made.addFilter(OncePerInterval())
    return made


def configure(level: int = logging.INFO, stream: IO[str] | None = None) -> None:
    """Root logging for a shegong process: our format, request ids, redacted access lines, rate-limited errors."""
    root = logging.getLogger()
    root.handlers[:] = [handler(stream)]
    root.setLevel(level)
    for chatty in ("bm25s", "jieba", "httpx", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # SQLAlchemy logs statements with their bound parameters (reply text, OpenIDs) at INFO: never on.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQuery) for f in access.filters):
        access.addFilter(RedactQuery())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True


# uvicorn's own dictConfig would replace our handlers; `serve` passes this instead.
UVICORN_LOG_CONFIG: dict[str, Any] = {"version": 1, "disable_existing_loggers": False}

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class RequestIdMiddleware:
    """Gives every HTTP request an id (a caller's X-Request-ID if it looks like one), logged and echoed back."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = (
            given if given.isascii() and given.replace("-", "").isalnum() and len(given) <= 64 else secrets.token_hex(8)
        )
        token = request_id.set(rid)

        async def send_with_id(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)


P = ParamSpec("P")
T = TypeVar("T")


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A thread pool whose tasks run in the context of whoever submitted them (the request id among it)."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        context = contextvars.copy_context()

        def in_context() -> T:
            return context.run(fn, *args, **kwargs)

        return super().submit(in_context)
