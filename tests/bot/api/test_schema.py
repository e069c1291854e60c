"""The office API keeps the promises of its OpenAPI document: schemathesis with every default check.

Requests are generated from /openapi.json and sent with the admin token to an app whose database holds
the demo communities, an open ticket and a ledger entry. Two rules tie one field to another, which a JSON
schema cannot say and the field descriptions do: with the admin token a change names the acting worker,
and an activity ends after it starts. Valid generated requests are made to follow them; everything else is
left as generated.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import Case
from starlette.types import Receive, Scope, Send

from bot.app import create_app
from bot.services import Services
from tests.conftest import make_settings

from .conftest import ADMIN, Seeded

schemathesis_settings = settings(
    max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
)


def _app() -> FastAPI:
    """The app whose schema is read at collection; each test hands it the services of its own database."""
    placeholder = make_settings("sqlite://", Path(tempfile.gettempdir()) / "shegong-schema-test")
    return create_app(placeholder, Services(placeholder))


APP = _app()


async def _without_lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    """APP without its start-up: the placeholder has no database to warm up from, and /api/ needs none."""
    if scope["type"] == "lifespan":
        raise RuntimeError("no lifespan here: each test's fixtures set up its services")
    await APP(scope, receive, send)


schema = schemathesis.openapi.from_asgi("/openapi.json", _without_lifespan).include(path_regex="^/api/")


@pytest.fixture
def serving(services: Services, seeded: Seeded) -> Iterator[Services]:
    placeholder = APP.state.services
    APP.state.services = services
    yield services
    APP.state.services = placeholder


def as_the_office_would(case: Case) -> None:
    """Make a valid generated request follow the two rules that cross fields."""
    if case.meta is None or not case.meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return
    body = case.body
    if case.method.upper() == "POST" and not str(body.get("worker", "")).strip():
        body["worker"] = "zhangli"
    start, end = body.get("start"), body.get("end")
    if isinstance(start, str) and isinstance(end, str) and _parsed(end) <= _parsed(start):
        earlier = _parsed(end) - timedelta(minutes=1)
        if earlier.year >= 2000:
            body["start"] = earlier.isoformat()
        else:
            body["end"] = (_parsed(start) + timedelta(minutes=1)).isoformat()
    if (body.get("latitude") is None) != (body.get("longitude") is None):
        body.pop("latitude", None)
        body.pop("longitude", None)


def _parsed(text: str) -> datetime:
    return datetime.fromisoformat(text)


@schema.parametrize()
@schemathesis_settings
def test_the_api_answers_as_its_schema_says(case: Case, serving: Services) -> None:
    as_the_office_would(case)
    case.call_and_validate(headers=ADMIN)
