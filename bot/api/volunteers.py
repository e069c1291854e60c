"""Volunteers in the office API: the monthly hours report, a bulk export that the audit log marks as such."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from bot.api.deps import CallerDep, ServicesDep, community_id_of, current_caller
from bot.api.errors import EVERY_ROUTE, answers
from bot.api.models import CommunityCode, Month, ReportLine
from handlers.volunteering.rules import month_bounds
from storage import activities as arepo

router = APIRouter(prefix="/api", tags=["volunteers"], dependencies=[Depends(current_caller)], responses=EVERY_ROUTE)


@router.get("/volunteers/report", response_model=list[ReportLine], responses=answers(403, 404))
def hours_report(
    services: ServicesDep,
    caller: CallerDep,
    month: Annotated[Month, Query(description="e.g. 2026-11")],
    community: Annotated[CommunityCode | None, Query()] = None,
) -> list[ReportLine]:
    start, end = month_bounds(month)
    community_id = caller.scope(community_id_of(services, community))
    with services.sessions.begin() as session:
        lines = arepo.hours_report(session, community_id=community_id, start=start, end=end)
        return [
            ReportLine(name=line.name, hours=line.minutes / 60, sessions=line.sessions, points=line.points)
            for line in lines
        ]
