"""Worker API for volunteering: activities, ledger reversals, voucher redemption (核销) and monthly hours.

Every route needs a worker's key or the admin token (bot/access.py) and is audited; a worker's key is
limited to its community and acts as its owner.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from bot.api.deps import CallerDep, community_id_of, current_caller
from bot.services import Services
from bot.webhook import get_services
from handlers.volunteering.activities import activity_json, create_activity_with_qr
from handlers.volunteering.rules import ACTIVITY_KINDS, month_bounds
from storage import volunteers as vrepo
from storage.models import utcnow

router = APIRouter(prefix="/api", dependencies=[Depends(current_caller)])

WorkerServices = Annotated[Services, Depends(get_services)]


class ActivityIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    kind: str = Field(pattern="^(" + "|".join(ACTIVITY_KINDS) + ")$")
    start: datetime
    end: datetime
    place: str = ""
    community: str | None = None
    capacity: int | None = Field(default=None, ge=1)
    latitude: float | None = None
    longitude: float | None = None
    radius_m: int | None = Field(default=None, ge=10)
    time_bank: bool = False
    worker: str = ""


class ReverseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    worker: str = Field(default="", max_length=64)


class VoucherUseIn(BaseModel):
    worker: str = Field(default="", max_length=64)
    community: str | None = None


@router.post("/activities", status_code=201)
def create_activity(body: ActivityIn, services: WorkerServices, caller: CallerDep) -> dict[str, Any]:
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
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    path = services.redraw_checkin_qr(activity_id=data["id"], now=utcnow())
    return data | ({"qr_path": path} if path else {})


@router.get("/activities")
def list_activities(services: WorkerServices, caller: CallerDep, community: str | None = None) -> list[dict[str, Any]]:
    community_id = caller.scope(community_id_of(services, community))
    with services.sessions.begin() as session:
        return [activity_json(a) for a in vrepo.list_activities(session, community_id=community_id)]


@router.post("/ledger/{entry_id}/reverse", status_code=201)
def reverse_entry(entry_id: int, body: ReverseIn, services: WorkerServices, caller: CallerDep) -> dict[str, Any]:
    worker = caller.acting_worker(body.worker)
    try:
        with services.sessions.begin() as session:
            original = session.get(vrepo.LedgerEntry, entry_id)
            if original is None or not caller.sees(original.community_id):
                raise vrepo.EntryNotFound(f"no ledger entry {entry_id}")
            entry = vrepo.reverse_entry(session, entry_id=entry_id, reason=body.reason, worker=worker, now=utcnow())
            return {"id": entry.id, "reverses": entry_id, "amount": entry.amount, "unit": entry.unit}
    except vrepo.EntryNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except vrepo.LedgerError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc


@router.post("/vouchers/{code}/use")
def use_voucher(code: str, body: VoucherUseIn, services: WorkerServices, caller: CallerDep) -> dict[str, Any]:
    worker = caller.acting_worker(body.worker)
    community_id = caller.scope(community_id_of(services, body.community))
    try:
        with services.sessions.begin() as session:
            voucher = vrepo.use_voucher(session, code=code, worker=worker, now=utcnow(), community_id=community_id)
            return {"code": voucher.code, "used_at": voucher.used_at.isoformat() if voucher.used_at else None}
    except vrepo.VoucherRefused as exc:
        status = 404 if exc.reason in ("unknown", "other_community") else 409
        raise HTTPException(status_code=status, detail=f"voucher refused: {exc.reason}") from exc


@router.get("/volunteers/report")
def hours_report(
    services: WorkerServices, caller: CallerDep, month: str, community: str | None = None
) -> list[dict[str, Any]]:
    try:
        start, end = month_bounds(month)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail="month must look like 2026-11") from exc
    community_id = caller.scope(community_id_of(services, community))
    with services.sessions.begin() as session:
        lines = vrepo.hours_report(session, community_id=community_id, start=start, end=end)
        return [
            {"name": line.name, "hours": line.minutes / 60, "sessions": line.sessions, "points": line.points}
            for line in lines
        ]
