"""户档 in the console: the silent-needs list and a household's file with its whole history, for the
household's grid worker and the community leaders (anyone else gets 404); every page is audited first, and
"登记今日平安" records a check-in after a phone call or a visit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from bot.console.auth import ChangeDep, ViewerDep, audit, services_of
from bot.console.people import Viewer
from bot.console.render import page
from handlers.wellbeing.checkins import check_in_for
from handlers.wellbeing.files import may_read, read_file
from handlers.wellbeing.history import history, silent_needs
from storage import safecheck as sc
from storage.households import Household
from storage.models import Community

router = APIRouter(prefix="/console")

HouseholdId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _readable(session: Session, viewer: Viewer, household_id: int) -> tuple[Community, Household]:
    household = session.get(Household, household_id)
    community = session.get(Community, household.community_id) if household else None
    if household is None or community is None or not may_read(community, household, viewer.userid):
        raise HTTPException(404, "没有找到这户，或者这户不在您负责的范围内。")
    return community, household


@router.get("/households")
def silent_list(request: Request, viewer: ViewerDep) -> Response:
    services = services_of(request)
    audit(services, request, viewer, action="read")
    rows = []
    with services.sessions.begin() as session:
        for info in viewer.communities:
            community = session.get(Community, info.id)
            if community is None:
                continue
            for need in silent_needs(session, community, now=services.clock()):
                household = session.get(Household, need.household_id)
                if household is not None and may_read(community, household, viewer.userid):
                    rows.append({"community": community.name, "need": need})
    return page(request, "households.html", {"viewer": viewer, "rows": rows, "active": "households"})


@router.get("/households/{household_id}")
def household_page(request: Request, viewer: ViewerDep, household_id: HouseholdId) -> Response:
    services = services_of(request)
    with services.sessions.begin() as session:
        community, household = _readable(session, viewer, household_id)
    audit(services, request, viewer, action="read", community_id=community.id)
    with services.sessions.begin() as session:
        community, household = _readable(session, viewer, household_id)
        found = read_file(session, services.settings.secret_key, community, household, reveal=True)
        past = history(session, household)
        enrolled = bool(sc.enrolments_of_household(session, household_id=household.id))
    context = {"viewer": viewer, "file": found, "past": past, "enrolled": enrolled, "active": "households"}
    return page(request, "household.html", context)


@router.post("/households/{household_id}/checkin")
def household_checkin(
    request: Request,
    viewer: ChangeDep,
    household_id: HouseholdId,
    how: Annotated[str, Form(pattern="^(phone|visit)$")] = "phone",
) -> Response:
    services = services_of(request)
    with services.sessions.begin() as session:
        community, household = _readable(session, viewer, household_id)
    audit(services, request, viewer, action="change", community_id=community.id)
    with services.sessions.begin() as session:
        _, household = _readable(session, viewer, household_id)
        enrolments = sc.enrolments_of_household(session, household_id=household.id)
        if not enrolments:
            raise HTTPException(409, "这户没有开通报平安。")
        for enrolment in enrolments:
            check_in_for(session, enrolment, by=f"worker:{viewer.userid}", how=how, now=services.clock())
    return RedirectResponse(f"/console/households/{household_id}", status_code=303)
