"""The JSON API under /api/ for the community office: list tickets, read one with its events, act on it.

Every request carries `Authorization: Bearer <SHEGONG_ADMIN_TOKEN>`, compared in constant time.
Actions name the worker doing them; the same rules as WeCom messages apply (their community only).
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bot.services import Services
from bot.tickets import WorkerCommand, act
from bot.webhook import get_services
from storage import repositories as repo
from storage import tickets as store
from storage.models import utcnow
from storage.tickets import Ticket, TicketEvent, TicketFilter

ServicesDep = Annotated[Services, Depends(get_services)]


def require_admin(services: ServicesDep, authorization: Annotated[str, Header()] = "") -> None:
    token = services.settings.admin_token
    scheme, _, given = authorization.partition(" ")
    if not token or scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})


router = APIRouter(prefix="/api", dependencies=[Depends(require_admin)])


def ticket_json(ticket: Ticket, *, now: datetime) -> dict[str, Any]:
    return {
        "code": ticket.code,
        "community_id": ticket.community_id,
        "category": ticket.category,
        "colour": ticket.colour,
        "status": ticket.status,
        "place": ticket.place,
        "building": ticket.building,
        "unit": ticket.unit,
        "description": ticket.description,
        "assignee": ticket.assignee,
        "escalation_level": ticket.escalation_level,
        "latest_note": ticket.latest_note,
        "rating": ticket.rating,
        "due_at": ticket.due_at.isoformat(),
        "overdue": ticket.is_open and ticket.due_at < now,
        "created_at": ticket.created_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
        "resolved_at": ticket.resolved_at.isoformat() if ticket.resolved_at else None,
    }


def event_json(event: TicketEvent) -> dict[str, Any]:
    return {
        "actor": event.actor,
        "action": event.action,
        "note": event.note,
        "data": event.data,
        "at": event.created_at.isoformat(),
    }


@router.get("/tickets")
def list_tickets(
    services: ServicesDep,
    status: Annotated[str | None, Query()] = None,
    colour: Annotated[Literal["red", "yellow", "blue"] | None, Query()] = None,
    building: Annotated[str | None, Query()] = None,
    community: Annotated[str | None, Query(description="community code")] = None,
    overdue: Annotated[bool, Query()] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    now = utcnow()
    with services.sessions.begin() as session:
        community_id = None
        if community:
            found = repo.community_by_code(session, code=community)
            if found is None:
                raise HTTPException(404, f"no community {community!r}")
            community_id = found.id
        where = TicketFilter(
            community_id=community_id,
            status=status,
            colour=colour,
            building=building,
            overdue_at=now if overdue else None,
        )
        rows = store.list_tickets(session, where=where, limit=limit, offset=offset)
        return {"tickets": [ticket_json(t, now=now) for t in rows]}


@router.get("/tickets/{code}")
def get_ticket(code: str, services: ServicesDep) -> dict[str, Any]:
    now = utcnow()
    with services.sessions.begin() as session:
        ticket = store.ticket_by_code(session, code=code)
        if ticket is None:
            raise HTTPException(404, f"no ticket {code.upper()}")
        events = store.events_for(session, ticket_id=ticket.id)
        return {**ticket_json(ticket, now=now), "events": [event_json(e) for e in events]}


class ActionBody(BaseModel):
    worker: str = Field(min_length=1, max_length=64, description="the WeCom userid of the worker acting")
    note: str = Field(default="", max_length=1000)
    to: str = Field(default="", max_length=64, description="transfer: the WeCom userid taking over")


def _act(services: Services, code: str, action: str, body: ActionBody) -> JSONResponse:
    command = WorkerCommand(action=action, code=code.upper(), note=body.note.strip(), target=body.to.strip())
    with services.sessions.begin() as session:
        outcome = act(session, services.settings, worker=body.worker, command=command, now=utcnow(), via="api")
        payload: dict[str, Any] = {"ok": outcome.ok, "message": outcome.message}
        if outcome.ok and outcome.ticket is not None:
            payload["ticket"] = ticket_json(outcome.ticket, now=utcnow())
        return JSONResponse(payload, status_code=outcome.status_code)


@router.post("/tickets/{code}/{action}")
async def ticket_action(
    code: str,
    action: Literal["accept", "progress", "transfer", "resolve"],
    body: ActionBody,
    services: ServicesDep,
) -> JSONResponse:
    return await run_in_threadpool(_act, services, code, action, body)
