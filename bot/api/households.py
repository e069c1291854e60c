"""Household files in the office API: read one (its grid worker, the leaders and the office only; anyone
else gets 404) and record today's check-in after phoning or visiting. Every request is audited (deps)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from bot.api.deps import Caller, CallerDep, ServicesDep, current_caller
from bot.api.errors import EVERY_ROUTE, answers
from handlers.wellbeing.checkins import check_in_for
from handlers.wellbeing.files import may_read, read_file
from storage import safecheck as sc
from storage.households import Household
from storage.models import Community

router = APIRouter(prefix="/api", tags=["households"], dependencies=[Depends(current_caller)], responses=EVERY_ROUTE)

HouseholdId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class HouseholdOut(BaseModel):
    id: int
    label: str
    community: str
    members: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    consent: dict[str, Any] | None
    enrolments: list[dict[str, Any]]
    log: list[dict[str, Any]]


class CheckinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    how: Literal["phone", "visit"] = "phone"
    worker: Annotated[str, Field(max_length=64)] = ""


class CheckinOut(BaseModel):
    messages: list[str]


def _visible(caller: Caller, session: Any, household_id: int) -> tuple[Community, Household]:
    household = session.get(Household, household_id)
    community = session.get(Community, household.community_id) if household is not None else None
    if household is None or community is None or not caller.sees(community.id) or caller.device_household is not None:
        raise HTTPException(404, "no such household, or not one this key may see")
    if not may_read(community, household, caller.worker):
        raise HTTPException(404, "no such household, or not one this key may see")
    return community, household


@router.get("/households/{household_id}", response_model=HouseholdOut, responses=answers(404))
def get_household(
    household_id: HouseholdId, services: ServicesDep, caller: CallerDep, reveal: Annotated[bool, Query()] = False
) -> HouseholdOut:
    with services.sessions.begin() as session:
        community, household = _visible(caller, session, household_id)
        found = read_file(session, services.settings.secret_key, community, household, reveal=reveal)
        return HouseholdOut.model_validate(found.as_dict())


@router.post("/households/{household_id}/checkin", response_model=CheckinOut, responses=answers(404, 409))
def record_checkin(household_id: HouseholdId, body: CheckinIn, services: ServicesDep, caller: CallerDep) -> CheckinOut:
    worker = caller.acting_worker(body.worker)
    with services.sessions.begin() as session:
        _, household = _visible(caller, session, household_id)
        enrolments = sc.enrolments_of_household(session, household_id=household.id)
        if not enrolments:
            raise HTTPException(409, "nobody in this household is enrolled for 报平安")
        now = services.clock()
        messages = [check_in_for(session, e, by=f"worker:{worker}", how=body.how, now=now) for e in enrolments]
    return CheckinOut(messages=messages)
