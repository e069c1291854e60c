"""The stories' database, built once per run: migrated, the demo communities loaded, the team's
knowledge-base entries synced. Each story plays on its own copy of the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.clock import system_clock
from handlers.communities import load_communities, parse_community_file
from handlers.knowledge import sync_team_entries
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade
from tests.conversations.loader import Story

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "community.yaml"


@pytest.fixture(scope="session")
def story_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    template = tmp_path_factory.mktemp("stories") / "template.db"
    url = f"sqlite:///{template}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine).begin() as session:
            load_communities(session, parse_community_file(EXAMPLE))
            sync_team_entries(session, now=system_clock())
    finally:
        engine.dispose()
    return template


@pytest.fixture(scope="session")
def story_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data directory for every story, so the knowledge index and the intent model's vectors saved on
    disk by the first story serve the others."""
    return tmp_path_factory.mktemp("stories-var")


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """A story's test id is its name as written, so `-k 评分` picks it and a failure reads as Chinese."""
    return val.name if isinstance(val, Story) else None
