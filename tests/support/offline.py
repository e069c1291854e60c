"""Tests make no HTTP call they did not arrange: anything but loopback is refused and fails the test.

python-telegram-bot's `OfflineRequest` is the idea. The refusal is raised inside the client, where the
outbox would take it for a passing network fault and retry quietly; so it is also recorded, and the
fixture fails the test at teardown, whatever the code under test did with the exception.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
# The API address tests get unless they stand up a fake API server: a request to it was not arranged.
UNARRANGED = "http://127.0.0.1:9"
_UNARRANGED_URL = httpx.URL(UNARRANGED)


class UnarrangedRequest(httpx.TransportError):
    """A request to a host the test did not stand up."""


@contextmanager
def offline() -> Iterator[list[str]]:
    """Refuse every httpx request that does not go to a server on loopback; yields the refused URLs."""
    refused: list[str] = []
    original_sync = httpx.HTTPTransport.handle_request
    original_async = httpx.AsyncHTTPTransport.handle_async_request

    def check(request: httpx.Request) -> None:
        url = request.url
        if url.host not in LOOPBACK or (url.host, url.port) == (_UNARRANGED_URL.host, _UNARRANGED_URL.port):
            refused.append(str(request.url.copy_with(query=None)))
            raise UnarrangedRequest(f"test made an unarranged request to {url.host}:{url.port}", request=request)

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        check(request)
        return original_sync(self, request)

    async def handle_async_request(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        check(request)
        return await original_async(self, request)

    httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]
    httpx.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign]
    try:
        yield refused
    finally:
        httpx.HTTPTransport.handle_request = original_sync  # type: ignore[method-assign]
        httpx.AsyncHTTPTransport.handle_async_request = original_async  # type: ignore[method-assign]


def closed_port() -> int:
    """A loopback port nothing listens on, for a test that means to find the API unreachable."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
