"""Fixtures for the edge: a fake WeChat / WeCom API server shared by a test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_api import FakeApi, fake_api


@pytest.fixture(scope="module")
def _api_server() -> Iterator[FakeApi]:
    with fake_api() as server:
        yield server


@pytest.fixture
def api(_api_server: FakeApi) -> FakeApi:
    """One fake API server per module (stopping one takes half a second), with a clean slate per test."""
    _api_server.calls.clear()
    _api_server.failures.clear()
    _api_server.down = False
    _api_server.token_counter = 0
    return _api_server
