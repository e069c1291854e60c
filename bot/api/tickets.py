"""The JSON API under /api/ for the community office: list tickets, read one with its events, act on it.

Every request carries a worker's key or the admin token (bot/access.py) and is audited. A worker's key sees
only its community's tickets and acts as its owner; the same rules as WeCom messages apply.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bot.api.deps import Caller, CallerDep, community_id_of, current_caller
from bot.services import Services
from bot.webhook import get_services
from handlers.tickets.actions import WorkerCommand, act
from storage import tickets as store
from storage.models import utcnow
from storage.tickets import Ticket, TicketEvent, TicketFilter

ServicesDep = Annotated[Services, Depends(get_services)]


router = APIRouter(prefix="/api", dependencies=[Depends(current_caller)])


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
    caller: CallerDep,
    status: Annotated[str | None, Query()] = None,
    colour: Annotated[Literal["red", "yellow", "blue"] | None, Query()] = None,
    building: Annotated[str | None, Query()] = None,
    community: Annotated[str | None, Query(description="community code")] = None,
    overdue: Annotated[bool, Query()] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    now = utcnow()
    community_id = caller.scope(community_id_of(services, community))
    with services.sessions.begin() as session:
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
def get_ticket(code: str, services: ServicesDep, caller: CallerDep) -> dict[str, Any]:
    now = utcnow()
    with services.sessions.begin() as session:
        ticket = store.ticket_by_code(session, code=code)
        # Another community's ticket is answered as if it did not exist: its code says nothing either.
        if ticket is None or not caller.sees(ticket.community_id):
            raise HTTPException(404, f"no ticket {code.upper()}")
        events = store.events_for(session, ticket_id=ticket.id)
        return {**ticket_json(ticket, now=now), "events": [event_json(e) for e in events]}


class ActionBody(BaseModel):
    worker: str = Field(
        default="", max_length=64, description="the WeCom userid acting; a worker's own key acts as its owner"
    )
    note: str = Field(default="", max_length=1000)
    to: str = Field(default="", max_length=64, description="transfer: the WeCom userid taking over")


def _act(services: Services, caller: Caller, code: str, action: str, body: ActionBody) -> JSONResponse:
    worker = caller.acting_worker(body.worker)
    command = WorkerCommand(action=action, code=code.upper(), note=body.note.strip(), target=body.to.strip())
    with services.sessions.begin() as session:
        ticket = store.ticket_by_code(session, code=code)
        if ticket is None or not caller.sees(ticket.community_id):
            raise HTTPException(404, f"no ticket {code.upper()}")
        outcome = act(session, services.settings, worker=worker, command=command, now=utcnow(), via="api")
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
    caller: CallerDep,
) -> JSONResponse:
    return await run_in_threadpool(_act, services, caller, code, action, body)
