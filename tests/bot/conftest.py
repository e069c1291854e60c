"""Fixtures for the webhook tests: the bundled knowledge base loaded once per run."""

from __future__ import annotations

import pytest


@pytest.fixture
def knowledge_index_built_once() -> None:
    """The team's bundled entries are the same in every test database, and bot.knowledge keeps the indexes
    it built by content for the whole process: the first app start-up builds it, the others reuse it."""
