"""数据看板: charts of the tickets, SLA, satisfaction, crisis alerts and questions a worker may see, over the
last twelve weeks. The figures are counted in SQL (storage.console_dashboard), the charts are option dicts
from bot.console.charts, and Apache ECharts (vendored with its licence) draws them in the browser."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bot.console.auth import ViewerDep, services_of
from bot.console.charts import (
    alerts_chart,
    has_data,
    heat_map,
    questions_chart,
    satisfaction,
    sla_rates,
    tickets_over_time,
    week_labels,
)
from bot.console.people import Viewer
from bot.console.render import page, templates
from handlers.clock import CHINA_TZ
from handlers.tickets.rules import CATEGORY_NAMES, COLOUR_NAMES
from storage import console_dashboard as store
from storage.console_dashboard import TicketGroup

templates.env.filters.update(has_data=has_data)
router = APIRouter(prefix="/console")

WEEKS = 12


def week_bounds(now: datetime, weeks: int = WEEKS) -> list[datetime]:
    """Week boundaries ending at tomorrow's local midnight, so the last bar holds today."""
    end = datetime.combine(now.astimezone(CHINA_TZ).date() + timedelta(days=1), time(), CHINA_TZ)
    return [end - timedelta(weeks=weeks - i) for i in range(weeks + 1)]


def _grid_namer(viewer: Viewer) -> dict[tuple[int, str], str]:
    grids: dict[tuple[int, str], str] = {}
    for info in viewer.communities:
        for grid in info.grids:
            for building in grid.buildings:
                grids[(info.id, building)] = grid.name if len(viewer.communities) == 1 else f"{info.name} {grid.name}"
    return grids


@router.get("/dashboard")
def dashboard(request: Request, viewer: ViewerDep) -> Response:
    services = services_of(request)
    weeks = week_bounds(services.clock())
    labels = week_labels(weeks)
    community_ids = sorted({r.community_id for r in viewer.reach})
    with services.sessions.begin() as session:
        groups = store.ticket_groups(session, reach=viewer.reach, weeks=weeks)
        alerts = store.alert_times(session, reach=viewer.reach, start=weeks[0], end=weeks[-1])
        questions = store.question_weeks(session, community_ids=community_ids, weeks=weeks)
    grids = _grid_namer(viewer)

    def grid_of(g: TicketGroup) -> str:
        return grids.get((g.community_id, g.building), "网格外")

    def worker_of(g: TicketGroup) -> str:
        return viewer.name_of(g.assignee or None)

    def category_of(g: TicketGroup) -> str:
        return CATEGORY_NAMES.get(g.category, g.category)

    by_category, by_colour = tickets_over_time(groups, labels, CATEGORY_NAMES, COLOUR_NAMES)
    sla_grid, sla_worker, _, _ = sla_rates(groups, grid_of, worker_of)
    sat = [
        satisfaction(groups, f"满意率 · 按{what}", key)
        for what, key in (("类别", category_of), ("网格", grid_of), ("工作人员", worker_of))
    ]
    alert_option, alert_summary = alerts_chart(alerts, weeks)
    question_option, question_totals = questions_chart(questions, labels)
    low = [
        (title, rate)
        for title, (_, rates) in zip(("类别", "网格", "工作人员"), sat, strict=True)
        for rate in rates
        if rate.percent < 85
    ]
    charts = {
        "by-category": by_category,
        "by-colour": by_colour,
        "sla-grid": sla_grid,
        "sla-worker": sla_worker,
        "heat": heat_map(groups, CATEGORY_NAMES),
        "sat-category": sat[0][0],
        "sat-grid": sat[1][0],
        "sat-worker": sat[2][0],
        "alerts": alert_option,
        "questions": question_option,
    }
    context = {
        "viewer": viewer,
        "active": "dashboard",
        "charts": charts,
        "tickets": sum(g.created for g in groups),
        "low": low,
        "alerts": alert_summary,
        "questions": question_totals,
        "start": weeks[0],
    }
    return page(request, "dashboard.html", context)
