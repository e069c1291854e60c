"""The notice board through the office API: a budget, an allocation refused as effective during its notice
period and accepted after, progress, spending bounded by the allocation, the demand split published as
flexible allocations, and the satisfaction tasks; refusals change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.services import Services
from bot.settings import Settings
from handlers.clock import FixedClock
from storage import board as store
from storage.models import utcnow

from .conftest import ADMIN

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def services(settings: Settings, clock: FixedClock) -> Iterator[Services]:
    services = Services(settings, clock=clock)
    yield services
    services.close()


def rows(services: Services) -> tuple[int, int, int]:
    with services.sessions.begin() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (store.Budget, store.Allocation, store.Spending)
        )


def test_a_worker_records_the_board_and_cannot_make_an_allocation_effective_early(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    budget = client.post(
        "/api/board/heping/budgets",
        headers=ADMIN,
        json={
            "period": "2026",
            "title": "社区公益金",
            "source": "government",
            "amount": 200000,
            "worker": "wangxiaoyan",
        },
    )
    assert budget.status_code == 201, budget.text
    assert budget.json()["amount_fen"] == 20_000_000
    made = client.post(
        "/api/board/heping/allocations",
        headers=ADMIN,
        json={
            "title": "儿童托管室改造",
            "purpose": "children",
            "amount": 35000.5,
            "beneficiaries": "双职工家庭的孩子",
            "worker": "wangxiaoyan",
        },
    )
    assert made.status_code == 201, made.text
    number = made.json()["number"]
    assert made.json()["status"] == "notice" and made.json()["amount_fen"] == 3_500_050
    assert made.json()["notice_ends_at"].startswith("2026-11-09")
    effective = f"/api/board/heping/allocations/{number[1:]}/effective"

    early = client.post(effective, headers=ADMIN, json={"worker": "wangxiaoyan"})
    assert early.status_code == 409 and "公示期" in early.json()["detail"]
    spend = f"/api/board/heping/allocations/{number[1:]}/spending"
    too_much = client.post(spend, headers=ADMIN, json={"amount": 40000, "note": "装修", "worker": "wangxiaoyan"})
    assert too_much.status_code == 409
    assert rows(services) == (1, 1, 0)
    assert client.get(f"/api/board/heping/allocations/{number[1:]}/objections", headers=ADMIN).json() == []
    assert client.get("/api/board/heping/allocations/999/objections", headers=ADMIN).status_code == 404

    clock.advance(timedelta(days=7))
    done = client.post(effective, headers=ADMIN, json={"worker": "wangxiaoyan"})
    assert done.status_code == 200 and done.json()["status"] == "effective"
    again = client.post(effective, headers=ADMIN, json={"worker": "wangxiaoyan"})
    assert again.status_code == 409
    spent = client.post(spend, headers=ADMIN, json={"amount": 12000, "note": "购买桌椅", "worker": "wangxiaoyan"})
    assert spent.status_code == 201 and spent.json()["allocation"] == number
    progress = client.post(
        f"/api/board/heping/allocations/{number[1:]}/progress", headers=ADMIN, json={"progress": 40, "worker": "x"}
    )
    assert progress.status_code == 200 and progress.json()["progress"] == 40
    listed = client.get("/api/board/heping/allocations", headers=ADMIN).json()
    assert [(a["number"], a["status"], a["progress"]) for a in listed] == [(number, "effective", 40)]
    page = client.get("/board/heping").text
    assert "购买桌椅" in page and "12,000 元" in page and "进度 40%" in page


def test_refusals_are_clear_and_write_nothing(client: TestClient, services: Services) -> None:
    body = {"title": "x", "purpose": "elderly", "amount": 100, "beneficiaries": "老人", "worker": "wangxiaoyan"}
    assert client.post("/api/board/nowhere/allocations", headers=ADMIN, json=body).status_code == 404
    assert (
        client.post("/api/board/heping/allocations", headers=ADMIN, json=body | {"purpose": "fun"}).status_code == 422
    )
    assert client.post("/api/board/heping/allocations", headers=ADMIN, json=body | {"amount": 0}).status_code == 422
    assert client.post("/api/board/heping/allocations", headers=ADMIN, json=body | {"amount": 1.234}).status_code == 422
    assert client.post("/api/board/heping/allocations", headers=ADMIN, json=body | {"amount": "100"}).status_code == 422
    assert client.post("/api/board/heping/allocations", headers=ADMIN, json=body | {"worker": ""}).status_code == 422
    assert (
        client.post("/api/board/heping/allocations/999/effective", headers=ADMIN, json={"worker": "w"}).status_code
        == 404
    )
    assert client.post("/api/board/heping/allocations", json=body).status_code == 401
    assert rows(services) == (0, 0, 0)


def test_the_flexible_share_follows_last_quarters_demand_and_is_published_as_adjusted(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    # The seeded lighting ticket (reported just now) is last quarter's only demand: facilities gets all of
    # the flexible share but the reserve.
    clock.now = utcnow() + timedelta(minutes=1)
    client.post(
        "/api/board/heping/budgets",
        headers=ADMIN,
        json={"period": "2026", "title": "公益金", "source": "residents", "amount": 100000, "worker": "w"},
    )
    found = client.get("/api/board/heping/demand", headers=ADMIN).json()
    assert (found["base_fen"], found["flexible_fen"], found["reserve_fen"]) == (7_000_000, 3_000_000, 500_000)
    assert [(line["purpose"], line["tickets"], line["amount_fen"]) for line in found["lines"]] == [
        ("facilities", 1, 2_500_000)
    ]
    over = client.post(
        "/api/board/heping/demand/publish", headers=ADMIN, json={"amounts": {"facilities": 26000}, "worker": "w"}
    )
    assert over.status_code == 409 and "应急储备" in over.json()["detail"]
    published = client.post(
        "/api/board/heping/demand/publish",
        headers=ADMIN,
        json={"amounts": {"facilities": 20000, "elderly": 5000}, "worker": "wangxiaoyan"},
    )
    assert published.status_code == 201, published.text
    assert [(a["purpose"], a["pool"], a["amount_fen"], a["status"]) for a in published.json()] == [
        ("facilities", "flexible", 2_000_000, "notice"),
        ("elderly", "flexible", 500_000, "notice"),
    ]
    assert client.get("/api/board/heping/improvement-tasks", headers=ADMIN).json() == []
