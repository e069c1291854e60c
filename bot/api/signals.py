"""POST /api/signals: a household's water meter, door sensor or SOS button reports, with its device key.

A silence ("no water used since 06:00", "door not opened for 24 h") starts the same escalation as a missed
报平安; an SOS raises a red visit task and alerts the duty worker at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from bot.api.deps import CallerDep, ServicesDep, current_caller
from bot.api.errors import EVERY_ROUTE, answers
from handlers.wellbeing.escalation import device_signal
from storage.households import Household

router = APIRouter(prefix="/api", tags=["signals"], dependencies=[Depends(current_caller)], responses=EVERY_ROUTE)


class SignalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["no_water", "door_closed", "sos"]
    since: datetime | None = Field(default=None, description="when the silence began (no water since, door shut since)")
    detail: Annotated[str, Field(max_length=200)] = ""
    # Like every change in the API, the body may name who acts; a device acts as itself, so it is not used.
    worker: Annotated[str, Field(max_length=64)] = ""


class SignalOut(BaseModel):
    action: Literal["escalation", "visit_task"]
    ticket: str | None = None
    started: int = 0


@router.post("/signals", response_model=SignalOut, status_code=202, responses=answers(403, 404))
def report_signal(body: SignalIn, services: ServicesDep, caller: CallerDep) -> SignalOut:
    if caller.device_household is None:
        raise HTTPException(403, "signals come from a device key (shegong device issue)")
    now = services.clock()
    detail = body.detail or (f"since {body.since.isoformat()}" if body.since else "")
    with services.sessions.begin() as session:
        household = session.get(Household, caller.device_household)
        if household is None:
            raise HTTPException(404, "the device's household is gone")
        outcome = device_signal(session, services.settings, household=household, kind=body.kind, detail=detail, now=now)
    return SignalOut.model_validate(outcome)
