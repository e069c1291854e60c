"""Activities in the office API: create one (with its venue QR) and list them.

A worker's key creates and lists only in its own community; the admin token names the community or none.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from bot.api.deps import CallerDep, ServicesDep, community_id_of, current_caller
from bot.api.errors import EVERY_ROUTE, answers, invalid
from bot.api.models import ActivityIn, ActivityOut, CommunityCode
from handlers.volunteering.activities import activity_json, create_activity_with_qr
from storage import activities as arepo
from storage.models import utcnow

router = APIRouter(prefix="/api", tags=["activities"], dependencies=[Depends(current_caller)], responses=EVERY_ROUTE)


@router.post("/activities", status_code=201, response_model=ActivityOut, responses=answers(400, 403, 404))
def create_activity(body: ActivityIn, services: ServicesDep, caller: CallerDep) -> ActivityOut:
    if body.end <= body.start:
        raise invalid(("body", "end"), "the end must be after the start")
    if (body.latitude is None) != (body.longitude is None):
        raise invalid(("body", "longitude" if body.longitude is None else "latitude"), "give both or neither")
    community_id = caller.scope(community_id_of(services, body.community))
    created_by = caller.worker or body.worker
    try:
        with services.sessions.begin() as session:
            activity = create_activity_with_qr(
                session,
                data_dir=services.settings.data_dir,
                title=body.title,
                kind=body.kind,
                starts_at=body.start,
                ends_at=body.end,
                now=utcnow(),
                community_id=community_id,
                place=body.place,
                capacity=body.capacity,
                latitude=body.latitude,
                longitude=body.longitude,
                radius_m=body.radius_m,
                time_bank=body.time_bank,
                created_by=created_by,
            )
            data = activity_json(activity)
    except ValueError as exc:
        raise invalid(("body",), str(exc)) from exc
    path = services.redraw_checkin_qr(activity_id=data["id"], now=utcnow())
    return ActivityOut.model_validate(data | ({"qr_path": path} if path else {}))


@router.get("/activities", response_model=list[ActivityOut], responses=answers(403, 404))
def list_activities(
    services: ServicesDep, caller: CallerDep, community: Annotated[CommunityCode | None, Query()] = None
) -> list[ActivityOut]:
    community_id = caller.scope(community_id_of(services, community))
    with services.sessions.begin() as session:
        activities = arepo.list_activities(session, community_id=community_id)
        return [ActivityOut.model_validate(activity_json(a)) for a in activities]
