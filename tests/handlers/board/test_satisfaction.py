"""The satisfaction loop: seeded ratings under 85 % open an improvement task for the leader (a WeCom card with
the low-rated tickets and a review date); ratings since then that are back above the line close it. Run by the
scheduler's daily job, twice at once without a second task or card."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from bot.outbox import drain_once, make_senders
from bot.scheduler import satisfaction_job
from bot.services import Services
from handlers.clock import FixedClock
from storage import repositories as repo
from storage import tickets as store
from storage.satisfaction import ImprovementTask
from tests.handlers.board.conftest import community, wecom_cards
from tests.support.fake_api import FakeApi


def rate(
    services: Services, clock: FixedClock, scores: list[int], *, category: str = "lighting", building: str = "3"
) -> list[str]:
    """Resolved tickets of 和平社区, each rated by its reporter at the clock's time; their codes."""
    codes = []
    now = clock()
    with services.sessions.begin() as session:
        heping = community(session)
        for n, score in enumerate(scores):
            resident = repo.get_or_create_resident(session, openid=f"openid-rater-{now:%m%d%H%M}-{n}")
            ticket = store.create_ticket(
                session,
                community_id=heping.id,
                reporter_id=resident.id,
                category=category,
                colour="blue",
                description="楼道灯不亮",
                place=f"{building}号楼",
                building=building,
                unit=None,
                assignee="zhangli",
                due_at=now + timedelta(days=3),
                remind_at=now + timedelta(days=2),
                now=now - timedelta(days=1),
                actor=f"resident:{resident.id}",
            )
            ticket.status, ticket.rating, ticket.resolved_at = "closed", score, now
            store.add_event(
                session, ticket=ticket, actor=f"resident:{resident.id}", action="rated", data={"score": score}, now=now
            )
            codes.append(ticket.code)
    return codes


def tasks(services: Services) -> list[ImprovementTask]:
    with services.sessions.begin() as session:
        return list(session.scalars(select(ImprovementTask).order_by(ImprovementTask.id)))


def test_a_low_rate_opens_a_task_for_the_leader_and_ratings_back_above_the_line_close_it(
    services: Services, clock: FixedClock, settings: object, api: FakeApi
) -> None:
    services.settings.wecom_api_base = api.base  # type: ignore[misc]
    job = satisfaction_job(services)
    # 10 ratings of the lighting in grid 1 (building 3): 7 satisfied, 70 %.
    low = rate(services, clock, [5, 5, 4, 4, 5, 4, 5, 2, 1, 3])
    clock.advance(timedelta(hours=1))
    job(clock())
    # Both the category and the grid (buildings 1-4) are at 70 %: a task each.
    opened = tasks(services)
    assert [(t.scope, t.scope_key, t.scope_name) for t in opened] == [
        ("category", "lighting", "照明"),
        ("grid", "hp-1", "第一网格"),
    ]
    task = opened[0]
    assert task.status == "open" and task.owner == "zhoushuji" and task.rate_opened == 70.0
    assert task.ratings_opened == 10
    assert [t["code"] for t in task.tickets] == [low[8], low[7], low[9]]  # the 1, the 2 and the 3
    assert task.review_at == clock() + timedelta(days=30)
    cards = wecom_cards(services, prefix="improvement:")
    assert [c.recipient for c in cards] == ["zhoushuji", "zhoushuji"]
    text = cards[0].payload["textcard"]
    assert "照明" in text["title"] and "低于 85%" in text["title"]
    assert "70%" in text["description"] and low[8] in text["description"] and "复查日期" in text["description"]
    assert text["url"].endswith(f"/console/tickets/{low[8]}")

    # The next day, the same low ratings open nothing more, and the task shows no new rate yet.
    clock.advance(timedelta(days=1))
    job(clock())
    assert len(tasks(services)) == 2 and len(wecom_cards(services, prefix="improvement:")) == 2
    assert tasks(services)[0].ratings_latest == 0 and tasks(services)[0].status == "open"

    # A fortnight on: eight new ratings, one of them low (87.5 %). The task shows it beside the old rate and closes.
    clock.advance(timedelta(days=14))
    rate(services, clock, [5, 5, 4, 5, 4, 5, 5, 2])
    clock.advance(timedelta(hours=1))
    job(clock())
    for closed in tasks(services):
        assert closed.status == "closed" and closed.rate_latest == 87.5 and closed.ratings_latest == 8
        assert closed.rate_opened == 70.0 and closed.open_key is None
    done = [c for c in wecom_cards(services, prefix="improvement:") if c.dedupe_key.endswith(":closed")]  # type: ignore[union-attr]
    assert done and "已完成" in done[0].payload["textcard"]["title"]
    assert "87.5%" in done[0].payload["textcard"]["description"]

    # Still under 85 % over the rolling 30 days (with the old ratings), but those opened the closed task.
    clock.advance(timedelta(days=1))
    job(clock())
    assert all(t.status == "closed" for t in tasks(services))

    # The cards leave through the outbox to WeCom.
    drain_once(services, make_senders(services), now=clock())
    assert any(call.body.get("touser") == "zhoushuji" for call in api.sent("/cgi-bin/message/send"))


def test_too_few_ratings_open_nothing(services: Services, clock: FixedClock) -> None:
    rate(services, clock, [1, 2, 5])
    clock.advance(timedelta(minutes=5))
    satisfaction_job(services)(clock())
    assert tasks(services) == []


def test_two_workers_running_the_check_at_once_open_one_task_and_send_one_card(
    services: Services, clock: FixedClock
) -> None:
    rate(services, clock, [1, 1, 1, 1, 1, 5], category="lift", building="9")  # no grid has building 9
    clock.advance(timedelta(minutes=5))
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            satisfaction_job(services)(clock())  # each worker process has its own throttle
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    [task] = tasks(services)
    assert (task.scope, task.scope_key) == ("category", "lift")
    assert len(wecom_cards(services, prefix="improvement:")) == 1
