"""数据看板: the figures behind each chart, counted for what the worker may see, with low satisfaction marked."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from bot.services import Services
from storage import repositories as repo
from storage.models import Community, utcnow
from storage.tickets import Ticket
from tests.bot.console.conftest import log_in


def _seed(services: Services) -> None:
    now = utcnow()
    with services.sessions.begin() as session:
        heping = session.scalar(select(Community.id).where(Community.code == "heping"))
        reporter = repo.get_or_create_resident(session, openid="openid-dashboard").id
        rows: list[dict[str, Any]] = []

        def ticket(n: int, building: str, category: str, colour: str, assignee: str, **extra: Any) -> None:
            created = now - timedelta(days=n % 20 + 1)
            rows.append(
                {
                    "code": f"D{n:05d}",
                    "community_id": heping,
                    "reporter_id": reporter,
                    "category": category,
                    "colour": colour,
                    "status": "open",
                    "building": building,
                    "place": f"{building}号楼",
                    "description": "看板测试",
                    "assignee": assignee,
                    "escalation_level": 0,
                    "due_at": created + timedelta(days=3),
                    "remind_at": created + timedelta(days=1),
                    "reminded": False,
                    "chain_exhausted": False,
                    "created_at": created,
                    "updated_at": created,
                }
                | extra
            )

        # 张丽's grid (buildings 1-4): 10 lighting tickets, all resolved on time, rated 5.
        for n in range(10):
            ticket(
                n,
                "3",
                "lighting",
                "blue",
                "zhangli",
                status="closed",
                rating=5,
                resolved_at=now - timedelta(hours=1) - timedelta(days=n % 20),
            )
        # 陈刚's grid (5-8): 4 plumbing tickets, resolved late, two rated 2 and two rated 5: 50 %.
        for n in range(10, 14):
            created = now - timedelta(days=10)
            ticket(
                n,
                "6",
                "plumbing",
                "red",
                "chengang",
                status="closed",
                rating=2 if n < 12 else 5,
                created_at=created,
                due_at=created + timedelta(days=1),
                resolved_at=created + timedelta(days=2),
            )
        session.execute(insert(Ticket), rows)


def _charts(text: str) -> dict[str, dict[str, Any]]:
    found = re.findall(r'id="chart-([a-z-]+)" data-option="([^"]*)"', text)
    return {name: json.loads(html.unescape(option)) for name, option in found}


def test_the_leader_sees_the_whole_community_with_low_satisfaction_marked(
    client: TestClient, services: Services
) -> None:
    _seed(services)
    log_in(client, "zhoushuji")
    page = client.get("/console/dashboard")
    assert page.status_code == 200
    assert "/console/static/vendor/echarts/echarts.min.js" in page.text
    charts = _charts(page.text)
    assert set(charts) == {
        "by-category",
        "by-colour",
        "sla-grid",
        "sla-worker",
        "heat",
        "sat-category",
        "sat-grid",
        "sat-worker",
    }
    # No crisis alert and no question in the seed: those two say so instead of drawing a blank box.
    assert 'class="chart-empty" id="chart-alerts"' in page.text
    assert 'class="chart-empty" id="chart-questions"' in page.text
    colours = {s["name"]: sum(s["data"]) for s in charts["by-colour"]["series"]}
    assert colours["蓝色"] == 10 and colours["红色"] == 4
    sla = dict(
        zip(
            charts["sla-worker"]["yAxis"]["data"],
            [d["value"] for d in charts["sla-worker"]["series"][0]["data"]],
            strict=True,
        )
    )
    assert sla == {"陈刚": 0.0, "张丽": 100.0}
    sat = charts["sat-worker"]["series"][0]
    by_worker = dict(zip(charts["sat-worker"]["yAxis"]["data"], sat["data"], strict=True))
    assert by_worker["陈刚"]["value"] == 50.0 and by_worker["陈刚"]["itemStyle"]["color"] == "#c62828"
    assert by_worker["张丽"]["value"] == 100.0 and by_worker["张丽"]["itemStyle"]["color"] != "#c62828"
    assert sat["markLine"]["data"][0]["xAxis"] == 85.0
    heat = charts["heat"]
    assert heat["xAxis"]["data"] == ["3号楼", "6号楼"]
    assert sorted(cell[2] for cell in heat["series"][0]["data"]) == [4, 10]
    marked = page.text.split("满意率低于 85% 的")[1].split("</section>")[0]
    assert "陈刚：50.0%" in marked and "张丽" not in marked
    assert "新工单 <b>14</b> 件" in page.text


def test_a_grid_worker_counts_only_their_grid(client: TestClient, services: Services) -> None:
    _seed(services)
    log_in(client, "zhangli")
    page = client.get("/console/dashboard")
    assert "新工单 <b>10</b> 件" in page.text
    charts = _charts(page.text)
    assert charts["heat"]["xAxis"]["data"] == ["3号楼"]
    assert "满意率低于 85% 的" not in page.text


def test_the_dashboard_needs_a_login(client: TestClient) -> None:
    assert client.get("/console/dashboard").status_code == 303


def test_a_chart_with_nothing_to_show_says_so(client: TestClient) -> None:
    log_in(client, "zhoushuji")
    page = client.get("/console/dashboard")
    assert page.status_code == 200
    assert _charts(page.text) == {}  # a fresh community: no blank boxes
    assert page.text.count('class="chart-empty"') == 10 and "暂无数据" in page.text
