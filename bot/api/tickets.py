"""Tickets in the office API: list them, read one with its events, and act on it (accept, progress, transfer,
resolve) with the same rules as a WeCom message (handlers.tickets.actions).

A worker's key sees only its community's tickets and acts as its owner; another community's ticket is
answered as if it did not exist, so its code says nothing either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from bot.api.deps import Caller, CallerDep, ServicesDep, community_id_of, current_caller
from bot.api.errors import EVERY_ROUTE, answers, invalid, refused
from bot.api.models import (
    BUILDING_LENGTH,
    INT_MAX,
    TICKET_CODE_LENGTH,
    ActionDone,
    ActionIn,
    ActionRefused,
    Colour,
    CommunityCode,
    EventOut,
    ProgressIn,
    Text,
    TicketDetail,
    TicketList,
    TicketOut,
    TicketStatus,
    TransferIn,
)
from bot.services import Services
from handlers.tickets.actions import WorkerCommand, act
from handlers.tickets.routing import routing_for
from storage import tickets as store
from storage.models import Community, utcnow
from storage.tickets import Ticket, TicketEvent, TicketFilter

router = APIRouter(prefix="/api", tags=["tickets"], dependencies=[Depends(current_caller)], responses=EVERY_ROUTE)

TicketCode = Annotated[Text, Path(min_length=1, max_length=TICKET_CODE_LENGTH, description="e.g. K7M2QX")]


def ticket_out(ticket: Ticket, *, now: datetime) -> TicketOut:
    return TicketOut(
        code=ticket.code,
        community_id=ticket.community_id,
        category=ticket.category,
        colour=ticket.colour,
        status=ticket.status,
        place=ticket.place,
        building=ticket.building,
        unit=ticket.unit,
        description=ticket.description,
        assignee=ticket.assignee,
        escalation_level=ticket.escalation_level,
        latest_note=ticket.latest_note,
        rating=ticket.rating,
        due_at=ticket.due_at,
        overdue=ticket.is_open and ticket.due_at < now,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        resolved_at=ticket.resolved_at,
    )


def event_out(event: TicketEvent) -> EventOut:
    return EventOut(actor=event.actor, action=event.action, note=event.note, data=event.data, at=event.created_at)


@router.get("/tickets", response_model=TicketList, responses=answers(403, 404))
def list_tickets(
    services: ServicesDep,
    caller: CallerDep,
    status: Annotated[TicketStatus | None, Query()] = None,
    colour: Annotated[Colour | None, Query()] = None,
    building: Annotated[Text | None, Query(max_length=BUILDING_LENGTH)] = None,
    community: Annotated[CommunityCode | None, Query()] = None,
    overdue: Annotated[bool, Query()] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT_MAX)] = 0,
) -> TicketList:
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
        return TicketList(tickets=[ticket_out(t, now=now) for t in rows])


@router.get("/tickets/{code}", response_model=TicketDetail, responses=answers(404))
def get_ticket(code: TicketCode, services: ServicesDep, caller: CallerDep) -> TicketDetail:
    now = utcnow()
    with services.sessions.begin() as session:
        ticket = store.ticket_by_code(session, code=code)
        if ticket is None or not caller.sees(ticket.community_id):
            raise HTTPException(404, f"no ticket {code.upper()}")
        events = store.events_for(session, ticket_id=ticket.id)
        return TicketDetail(**ticket_out(ticket, now=now).model_dump(), events=[event_out(e) for e in events])


def _act(services: Services, caller: Caller, code: str, action: str, body: ActionIn) -> JSONResponse:
    try:
        worker = caller.acting_worker(body.worker)
    except HTTPException as exc:
        return refused(exc.status_code, str(exc.detail))
    target = body.to.strip() if isinstance(body, TransferIn) else ""
    command = WorkerCommand(action=action, code=code.upper(), note=body.note.strip(), target=target)
    with services.sessions.begin() as session:
        ticket = store.ticket_by_code(session, code=code)
        if ticket is None or not caller.sees(ticket.community_id):
            return refused(404, f"没有找到工单 {code.upper()}，请核对工单号。")
        if action == "transfer":
            # Naming someone who is not on the roster names nobody: answered like any unknown record.
            workers = routing_for(session.get(Community, ticket.community_id)).workers()
            if worker in workers and target not in workers:
                return refused(404, f"“{target}”不是本社区登记的工作人员，未转派。")
        outcome = act(session, services.settings, worker=worker, command=command, now=utcnow(), via="api")
        if not outcome.ok:
            return refused(outcome.status_code, outcome.message)
        ticket_body = ticket_out(outcome.ticket, now=utcnow()) if outcome.ticket is not None else None
        done = ActionDone(message=outcome.message, ticket=ticket_body)
        return JSONResponse(done.model_dump(mode="json"), status_code=outcome.status_code)


_ACTION_ANSWERS = answers(400) | answers(403, 404, 409, model=ActionRefused)


@router.post("/tickets/{code}/accept", response_model=ActionDone, responses=_ACTION_ANSWERS)
async def accept_ticket(code: TicketCode, body: ActionIn, services: ServicesDep, caller: CallerDep) -> JSONResponse:
    """Take the ticket on: it becomes the acting worker's."""
    return await run_in_threadpool(_act, services, caller, code, "accept", body)


@router.post("/tickets/{code}/progress", response_model=ActionDone, responses=_ACTION_ANSWERS)
async def record_progress(code: TicketCode, body: ProgressIn, services: ServicesDep, caller: CallerDep) -> JSONResponse:
    """Note what has been done so far; the residents who follow the ticket hear it."""
    return await run_in_threadpool(_act, services, caller, code, "progress", body)


@router.post("/tickets/{code}/transfer", response_model=ActionDone, responses=_ACTION_ANSWERS)
async def transfer_ticket(code: TicketCode, body: TransferIn, services: ServicesDep, caller: CallerDep) -> JSONResponse:
    """Hand the ticket to another worker of its community (`to`)."""
    return await run_in_threadpool(_act, services, caller, code, "transfer", body)


@router.post("/tickets/{code}/resolve", response_model=ActionDone, responses=_ACTION_ANSWERS)
async def resolve_ticket(code: TicketCode, body: ActionIn, services: ServicesDep, caller: CallerDep) -> JSONResponse:
    """Mark the ticket done; the reporter is asked to rate it."""
    return await run_in_threadpool(_act, services, caller, code, "resolve", body)


@router.post("/tickets/{code}/{action}", include_in_schema=False)
def unknown_action(code: str, action: str) -> None:
    """Any other verb is malformed input, not a missing page."""
    raise invalid(("path", "action"), "action must be one of accept, progress, transfer, resolve")
