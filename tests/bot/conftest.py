"""Fixtures for the webhook tests: the bundled knowledge base loaded once per run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot import services as services_module

_shared_indexes: dict[tuple[str, tuple[str, ...]], Any] = {}


@pytest.fixture
def knowledge_index_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The team's bundled entries are identical in every data dir: load them once per run instead of
    re-reading the files at each app start-up (about a second each)."""
    real = services_module.knowledge_index_for

    def shared(setting: str, data_dir: Path, collections: tuple[str, ...]) -> Any:
        key = (setting, collections)
        if key not in _shared_indexes:
            _shared_indexes[key] = real(setting, data_dir, collections)
        return _shared_indexes[key]

    monkeypatch.setattr(services_module, "knowledge_index_for", shared)
