"""The notice board in the office API: record budgets, publish allocations (also the flexible share by
demand), record progress and spending, mark an allocation effective once its notice period is over; and
read the satisfaction improvement tasks. Every change names the acting worker.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Path as PathParam
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, WithJsonSchema

from bot.api.deps import CallerDep, ServicesDep, current_caller
from bot.api.errors import EVERY_ROUTE, answers, invalid
from bot.api.models import CODE_LENGTH, INT_MAX, Body, Text, Words, WorkerId
from bot.services import Services
from handlers.board import demand
from handlers.board.rules import PURPOSES, yuan_to_fen
from handlers.board.services import (
    BoardRefused,
    mark_effective,
    publish_allocation,
    record_budget,
    record_spending,
    set_progress,
)
from storage import board as store
from storage import repositories as repo
from storage import satisfaction as sstore
from storage.models import Community

router = APIRouter(prefix="/api/board", tags=["board"], dependencies=[Depends(current_caller)], responses=EVERY_ROUTE)

Code = Annotated[str, PathParam(min_length=1, max_length=CODE_LENGTH, description="community code")]
AllocationId = Annotated[int, PathParam(ge=1, le=INT_MAX, description="the allocation's number without its A")]
MAX_YUAN = 10_000_000_000_000  # fits BIGINT fen with room to spare


def _yuan(value: object) -> Decimal:
    # A JSON number, read through its shortest decimal form, so 0.1 is 1 jiao and not 0.1000000000000000055.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("an amount is a JSON number of yuan")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("an amount is a finite number")
    return Decimal(str(value))


# Yuan with at most two decimals (fen), more than zero.
Yuan = Annotated[
    Decimal,
    BeforeValidator(_yuan),
    Field(gt=0, le=MAX_YUAN, decimal_places=2),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": MAX_YUAN, "multipleOf": 0.01}),
]
Purpose = Literal[PURPOSES]  # type: ignore[valid-type]
Source = Literal["government", "company", "residents", "foundation"]  # storage.board.SOURCES
Pool = Literal["base", "flexible", "reserve"]  # storage.board.POOLS
Short = Annotated[Words, Field(max_length=200)]
Note = Annotated[Text, Field(max_length=500)]


class BudgetIn(Body):
    period: Annotated[Words, Field(max_length=16, description='"2026" or "2026-Q4"')]
    title: Short
    source: Source
    amount: Yuan
    note: Note = ""
    worker: WorkerId = ""


class BudgetOut(BaseModel):
    id: int
    period: str
    title: str
    source: str
    amount_fen: int


class AllocationIn(Body):
    title: Short
    purpose: Purpose
    amount: Yuan
    beneficiaries: Short
    pool: Pool = "base"
    note: Note = ""
    worker: WorkerId = ""


class AllocationOut(BaseModel):
    number: str
    title: str
    purpose: str
    pool: str
    amount_fen: int
    beneficiaries: str
    progress: int
    status: str
    published_at: datetime
    notice_ends_at: datetime
    effective_at: datetime | None
    objections: int


class ObjectionOut(BaseModel):
    allocation: str
    reason: str  # phone and ID numbers in it are masked at rest
    created_at: datetime


class WorkerIn(Body):
    worker: WorkerId = ""


class ProgressIn(Body):
    progress: Annotated[int, Field(ge=0, le=100)]
    worker: WorkerId = ""


class SpendingIn(Body):
    amount: Yuan
    note: Short
    spent_at: AwareDatetime | None = None
    worker: WorkerId = ""


class SpendingOut(BaseModel):
    id: int
    allocation: str
    amount_fen: int
    note: str
    spent_at: datetime


class DemandLineOut(BaseModel):
    purpose: str
    name: str
    tickets: int
    questions: int
    proposals: int
    share: float
    amount_fen: int


class SuggestionOut(BaseModel):
    since: datetime
    until: datetime
    total_fen: int
    base_fen: int
    flexible_fen: int
    reserve_fen: int
    to_share_fen: int
    lines: list[DemandLineOut]


class SplitIn(Body):
    """The flexible share as the worker adjusted it: purpose -> yuan."""

    amounts: Annotated[dict[Purpose, Yuan], Field(min_length=1)]
    budget: Yuan | None = None
    worker: WorkerId = ""


class TaskOut(BaseModel):
    number: str
    scope: str
    scope_key: str
    scope_name: str
    status: str
    owner: str | None
    opened_at: datetime
    review_at: datetime
    rate_opened: float
    ratings_opened: int
    rate_latest: float | None
    ratings_latest: int | None
    closed_at: datetime | None
    tickets: list[str]


def _community(services: Services, caller: CallerDep, code: str, session: object) -> Community:
    community = repo.community_by_code(session, code=code)  # type: ignore[arg-type]
    if community is None or not caller.sees(community.id):
        raise HTTPException(404, f"no community {code!r}")
    return community


def _refused(exc: BoardRefused) -> HTTPException:
    status = {"unknown": 404, "other_community": 404}.get(exc.reason, 409)
    return HTTPException(status, f"board change refused ({exc.reason}): {exc.message}")


def _out(allocation: store.Allocation, objections: int) -> AllocationOut:
    return AllocationOut(
        number=allocation.number,
        title=allocation.title,
        purpose=allocation.purpose,
        pool=allocation.pool,
        amount_fen=allocation.amount_fen,
        beneficiaries=allocation.beneficiaries,
        progress=allocation.progress,
        status=allocation.status,
        published_at=allocation.published_at,
        notice_ends_at=allocation.notice_ends_at,
        effective_at=allocation.effective_at,
        objections=objections,
    )


def _count(session: object, allocation: store.Allocation) -> int:
    found = store.objection_counts(session, allocation_ids=[allocation.id])  # type: ignore[arg-type]
    return found.get(allocation.id, 0)


@router.post("/{code}/budgets", response_model=BudgetOut, status_code=201, responses=answers(400, 403, 404, 409))
def add_budget(code: Code, body: BudgetIn, services: ServicesDep, caller: CallerDep) -> BudgetOut:
    worker = caller.acting_worker(body.worker)
    try:
        with services.sessions.begin() as session:
            budget = record_budget(
                session,
                community=_community(services, caller, code, session),
                period=body.period,
                title=body.title,
                source=body.source,
                amount_fen=yuan_to_fen(body.amount),
                note=body.note,
                worker=worker,
                now=services.clock(),
            )
            return BudgetOut(
                id=budget.id,
                period=budget.period,
                title=budget.title,
                source=budget.source,
                amount_fen=budget.amount_fen,
            )
    except BoardRefused as exc:
        raise _refused(exc) from exc


@router.get("/{code}/allocations", response_model=list[AllocationOut], responses=answers(403, 404))
def list_allocations(code: Code, services: ServicesDep, caller: CallerDep) -> list[AllocationOut]:
    with services.sessions.begin() as session:
        community = _community(services, caller, code, session)
        rows = store.allocations_for(session, community_id=community.id, include_withdrawn=True)
        counts = store.objection_counts(session, allocation_ids=[a.id for a in rows])
        return [_out(a, counts.get(a.id, 0)) for a in rows]


@router.post(
    "/{code}/allocations", response_model=AllocationOut, status_code=201, responses=answers(400, 403, 404, 409)
)
def add_allocation(code: Code, body: AllocationIn, services: ServicesDep, caller: CallerDep) -> AllocationOut:
    """Publish an allocation: it may be marked effective once the community's notice period has passed."""
    worker = caller.acting_worker(body.worker)
    try:
        with services.sessions.begin() as session:
            allocation = publish_allocation(
                session,
                community=_community(services, caller, code, session),
                title=body.title,
                purpose=body.purpose,
                pool=body.pool,
                amount_fen=yuan_to_fen(body.amount),
                beneficiaries=body.beneficiaries,
                note=body.note,
                worker=worker,
                now=services.clock(),
            )
            return _out(allocation, 0)
    except BoardRefused as exc:
        raise _refused(exc) from exc


@router.get(
    "/{code}/allocations/{allocation_id}/objections", response_model=list[ObjectionOut], responses=answers(403, 404)
)
def list_objections(
    code: Code, allocation_id: AllocationId, services: ServicesDep, caller: CallerDep
) -> list[ObjectionOut]:
    """Residents' objections to an allocation, oldest first; who objected is not shown."""
    with services.sessions.begin() as session:
        community = _community(services, caller, code, session)
        allocation = store.allocation_by_id(session, allocation_id=allocation_id)
        if allocation is None or allocation.community_id != community.id:
            raise HTTPException(404, f"no allocation A{allocation_id} in {code!r}")
        return [
            ObjectionOut(allocation=allocation.number, reason=o.reason, created_at=o.created_at)
            for o in store.objections_for(session, allocation_id=allocation.id)
        ]


@router.post(
    "/{code}/allocations/{allocation_id}/effective", response_model=AllocationOut, responses=answers(400, 403, 404, 409)
)
def make_effective(
    code: Code, allocation_id: AllocationId, body: WorkerIn, services: ServicesDep, caller: CallerDep
) -> AllocationOut:
    """Refused (409) while the notice period runs, and for an allocation already effective or withdrawn."""
    caller.acting_worker(body.worker)
    try:
        with services.sessions.begin() as session:
            community = _community(services, caller, code, session)
            allocation = mark_effective(session, community=community, allocation_id=allocation_id, now=services.clock())
            return _out(allocation, _count(session, allocation))
    except BoardRefused as exc:
        raise _refused(exc) from exc


@router.post(
    "/{code}/allocations/{allocation_id}/progress", response_model=AllocationOut, responses=answers(400, 403, 404, 409)
)
def update_progress(
    code: Code, allocation_id: AllocationId, body: ProgressIn, services: ServicesDep, caller: CallerDep
) -> AllocationOut:
    caller.acting_worker(body.worker)
    try:
        with services.sessions.begin() as session:
            community = _community(services, caller, code, session)
            allocation = set_progress(
                session, community=community, allocation_id=allocation_id, progress=body.progress, now=services.clock()
            )
            return _out(allocation, _count(session, allocation))
    except BoardRefused as exc:
        raise _refused(exc) from exc


@router.post(
    "/{code}/allocations/{allocation_id}/spending",
    response_model=SpendingOut,
    status_code=201,
    responses=answers(400, 403, 404, 409),
)
def add_spending(
    code: Code, allocation_id: AllocationId, body: SpendingIn, services: ServicesDep, caller: CallerDep
) -> SpendingOut:
    """A spending record; refused (409) when the allocation's spending would exceed its amount."""
    worker = caller.acting_worker(body.worker)
    now = services.clock()
    try:
        with services.sessions.begin() as session:
            row = record_spending(
                session,
                community=_community(services, caller, code, session),
                allocation_id=allocation_id,
                amount_fen=yuan_to_fen(body.amount),
                note=body.note,
                spent_at=body.spent_at or now,
                worker=worker,
                now=now,
            )
            return SpendingOut(
                id=row.id,
                allocation=f"A{row.allocation_id}",
                amount_fen=row.amount_fen,
                note=row.note,
                spent_at=row.spent_at,
            )
    except BoardRefused as exc:
        raise _refused(exc) from exc


def _suggestion_out(found: demand.Suggestion) -> SuggestionOut:
    return SuggestionOut(
        since=found.since,
        until=found.until,
        total_fen=found.total_fen,
        base_fen=found.base_fen,
        flexible_fen=found.flexible_fen,
        reserve_fen=found.reserve_fen,
        to_share_fen=found.to_share_fen,
        lines=[
            DemandLineOut(
                purpose=line.purpose,
                name=line.name,
                tickets=line.tickets,
                questions=line.questions,
                proposals=line.proposals,
                share=line.share,
                amount_fen=line.amount_fen,
            )
            for line in found.lines
        ],
    )


@router.get("/{code}/demand", response_model=SuggestionOut, responses=answers(403, 404))
def suggest(
    code: Code,
    services: ServicesDep,
    caller: CallerDep,
    budget: Annotated[
        int | None,
        Query(ge=1, le=MAX_YUAN, description="the whole budget in whole yuan; default: every budget recorded"),
    ] = None,
) -> SuggestionOut:
    """Last quarter's demand and the suggested split of the flexible share across purposes."""
    with services.sessions.begin() as session:
        community = _community(services, caller, code, session)
        total = int(budget) * 100 if budget is not None else None
        return _suggestion_out(
            demand.suggest_split(session, community=community, now=services.clock(), total_fen=total)
        )


@router.post(
    "/{code}/demand/publish", response_model=list[AllocationOut], status_code=201, responses=answers(400, 403, 404, 409)
)
def publish_demand(code: Code, body: SplitIn, services: ServicesDep, caller: CallerDep) -> list[AllocationOut]:
    """Publish the flexible share, as adjusted, as allocations of the flexible pool (each with its notice period)."""
    worker = caller.acting_worker(body.worker)
    now = services.clock()
    try:
        with services.sessions.begin() as session:
            community = _community(services, caller, code, session)
            total = yuan_to_fen(body.budget) if body.budget is not None else None
            found = demand.suggest_split(session, community=community, now=now, total_fen=total)
            amounts = {purpose: yuan_to_fen(yuan) for purpose, yuan in body.amounts.items()}
            rows = demand.publish_split(
                session, community=community, suggestion=found, amounts=amounts, worker=worker, now=now
            )
            if not rows:
                raise invalid(("body", "amounts"), "give at least one purpose an amount above zero")
            return [_out(a, 0) for a in rows]
    except BoardRefused as exc:
        raise _refused(exc) from exc


@router.get("/{code}/improvement-tasks", response_model=list[TaskOut], responses=answers(403, 404))
def improvement_tasks(code: Code, services: ServicesDep, caller: CallerDep) -> list[TaskOut]:
    """The satisfaction improvement tasks, newest first: the rate that opened each beside the rate since."""
    with services.sessions.begin() as session:
        community = _community(services, caller, code, session)
        return [
            TaskOut(
                number=t.number,
                scope=t.scope,
                scope_key=t.scope_key,
                scope_name=t.scope_name,
                status=t.status,
                owner=t.owner,
                opened_at=t.opened_at,
                review_at=t.review_at,
                rate_opened=t.rate_opened,
                ratings_opened=t.ratings_opened,
                rate_latest=t.rate_latest,
                ratings_latest=t.ratings_latest,
                closed_at=t.closed_at,
                tickets=[str(x.get("code", "")) for x in t.tickets],
            )
            for t in sstore.tasks_for(session, community_id=community.id)
        ]
