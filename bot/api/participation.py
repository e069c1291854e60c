"""Proposals and votes in the office API: publish, refuse, schedule the council meeting, record the decision;
open a vote, enter paper ballots, read results once it has closed.

A worker's key acts only in its own community; the admin token names the acting worker. Ballots are never
readable here: a vote shows its totals, and only after it has closed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, Field

from bot.api.deps import Caller, CallerDep, ServicesDep, community_id_of, current_caller
from bot.api.errors import EVERY_ROUTE, answers, refused
from bot.api.models import (
    BUILDING_LENGTH,
    NOTE_LENGTH,
    PLACE_LENGTH,
    REASON_LENGTH,
    ActivityTime,
    Body,
    CommunityCode,
    Text,
    Words,
    WorkerId,
)
from bot.api.models import _whole_number as whole_number
from bot.services import Services
from handlers.participation.proposals import (
    WorkerResult,
    decide_proposal,
    proposal_json,
    publish_proposal,
    refuse_proposal,
    schedule_meeting,
)
from handlers.participation.votes import VoteRefused, enter_paper_ballot, open_vote, vote_json
from storage import participation as store
from storage.models import utcnow

router = APIRouter(prefix="/api", tags=["participation"], dependencies=[Depends(current_caller)], responses=EVERY_ROUTE)

RecordId = Annotated[int, Path(ge=1, le=2_147_483_647)]


class ProposalOut(BaseModel):
    id: int
    code: str
    community_id: int
    text: str
    status: str
    status_name: str
    reason: str | None
    supports: int
    threshold: int
    activity_id: int | None
    decision: str | None
    created_at: str


class ProposalDone(BaseModel):
    ok: bool = True
    message: str
    proposal: ProposalOut | None = None


class WorkerIn(Body):
    worker: WorkerId = ""


class RefuseIn(WorkerIn):
    reason: Annotated[Words, Field(max_length=REASON_LENGTH, description="why; the proposer is told")]


class DecisionIn(WorkerIn):
    decision: Annotated[Words, Field(max_length=NOTE_LENGTH, description="the decision and what follows")]


class MeetingIn(WorkerIn):
    start: ActivityTime
    end: ActivityTime = Field(description="after the start")
    place: Annotated[Text, Field(max_length=PLACE_LENGTH)] = ""


class VoteIn(WorkerIn):
    community: CommunityCode | None = None
    question: Annotated[Words, Field(max_length=500)]
    options: list[Annotated[Words, Field(max_length=100)]] = Field(min_length=2, max_length=10)
    buildings: list[Annotated[Words, Field(max_length=BUILDING_LENGTH)]] = Field(
        default_factory=list, max_length=1000, description="who may vote; empty: the whole community"
    )
    closes_at: ActivityTime


class VoteOut(BaseModel):
    id: int
    code: str
    community_id: int
    question: str
    options: list[str]
    buildings: list[str]
    closes_at: str
    status: str
    results: dict[str, Any] | None


class PaperIn(WorkerIn):
    building: Annotated[Words, Field(max_length=BUILDING_LENGTH)]
    unit: Annotated[Text, Field(max_length=BUILDING_LENGTH)] = ""
    room: Annotated[Words, Field(max_length=BUILDING_LENGTH)]
    choice: Annotated[
        int, Field(ge=1, le=10, description="the option number on the ballot"), BeforeValidator(whole_number)
    ]


class PaperDone(BaseModel):
    ok: bool = True
    message: str


# Refusals carry `detail` (and, for a worker action, the same words as `message`).
_REFUSALS = answers(400, 403, 404, 409)  # 400: a body that is not JSON


def _worker(caller: Caller, named: str) -> str:
    return caller.acting_worker(named)


def _proposal_answer(services: Services, run: Any) -> JSONResponse:
    with services.sessions.begin() as session:
        result: WorkerResult = run(session)
        # A refusal changed nothing (the services refuse before they write).
        if not result.ok:
            return refused(409 if result.status_code == 400 else result.status_code, result.message)
        body = ProposalDone(
            message=result.message,
            proposal=ProposalOut.model_validate(proposal_json(session, result.proposal)) if result.proposal else None,
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=result.status_code)


@router.get("/proposals", response_model=list[ProposalOut], responses=answers(403, 404))
def list_proposals(
    services: ServicesDep,
    caller: CallerDep,
    community: Annotated[CommunityCode | None, Query()] = None,
    status: Annotated[str | None, Query(pattern="^(submitted|published|refused|on_agenda|decided)$")] = None,
) -> list[ProposalOut]:
    community_id = caller.scope(community_id_of(services, community))
    with services.sessions.begin() as session:
        rows = store.list_proposals(session, community_id=community_id, status=status)
        return [ProposalOut.model_validate(proposal_json(session, p)) for p in rows]


@router.post("/proposals/{proposal_id}/publish", response_model=ProposalDone, responses=_REFUSALS)
def publish(proposal_id: RecordId, body: WorkerIn, services: ServicesDep, caller: CallerDep) -> JSONResponse:
    """Publish a submitted proposal: residents can then support it ("附议 P12")."""
    worker = _worker(caller, body.worker)
    return _proposal_answer(
        services,
        lambda s: publish_proposal(
            s, services.settings, proposal_id=proposal_id, worker=worker, now=utcnow(), community_id=caller.community_id
        ),
    )


@router.post("/proposals/{proposal_id}/refuse", response_model=ProposalDone, responses=_REFUSALS)
def refuse(proposal_id: RecordId, body: RefuseIn, services: ServicesDep, caller: CallerDep) -> JSONResponse:
    """Refuse a proposal with a reason the proposer (and any supporter) is told."""
    worker = _worker(caller, body.worker)
    return _proposal_answer(
        services,
        lambda s: refuse_proposal(
            s,
            services.settings,
            proposal_id=proposal_id,
            worker=worker,
            reason=body.reason,
            now=utcnow(),
            community_id=caller.community_id,
        ),
    )


@router.post("/proposals/{proposal_id}/meeting", status_code=201, response_model=ProposalDone, responses=_REFUSALS)
def meeting(proposal_id: RecordId, body: MeetingIn, services: ServicesDep, caller: CallerDep) -> JSONResponse:
    """Schedule the council meeting for a proposal on the agenda, as a meeting activity."""
    worker = _worker(caller, body.worker)
    return _proposal_answer(
        services,
        lambda s: schedule_meeting(
            s,
            services.settings,
            proposal_id=proposal_id,
            worker=worker,
            starts_at=body.start,
            ends_at=body.end,
            place=body.place,
            now=utcnow(),
            community_id=caller.community_id,
        ),
    )


@router.post("/proposals/{proposal_id}/decision", response_model=ProposalDone, responses=_REFUSALS)
def decision(proposal_id: RecordId, body: DecisionIn, services: ServicesDep, caller: CallerDep) -> JSONResponse:
    """Record the decision and what follows; the proposer and every supporter are told."""
    worker = _worker(caller, body.worker)
    return _proposal_answer(
        services,
        lambda s: decide_proposal(
            s,
            services.settings,
            proposal_id=proposal_id,
            worker=worker,
            decision=body.decision,
            now=utcnow(),
            community_id=caller.community_id,
        ),
    )


@router.post("/votes", status_code=201, response_model=VoteOut, responses=_REFUSALS)
def create_vote(body: VoteIn, services: ServicesDep, caller: CallerDep) -> JSONResponse:
    """Open a vote; the residents who may vote are told how to."""
    worker = _worker(caller, body.worker)
    community_id = caller.scope(community_id_of(services, body.community))
    if community_id is None:
        return refused(409, "name the community the vote is for (field 'community')")
    try:
        with services.sessions.begin() as session:
            vote = open_vote(
                session,
                community_id=community_id,
                question=body.question,
                options=list(body.options),
                buildings=list(body.buildings),
                closes_at=body.closes_at,
                worker=worker,
                now=utcnow(),
            )
            data = vote_json(vote)
    except VoteRefused as exc:
        return refused(404 if exc.status_code == 404 else 409, str(exc))
    return JSONResponse(VoteOut.model_validate(data).model_dump(mode="json"), status_code=201)


@router.get("/votes", response_model=list[VoteOut], responses=answers(403, 404))
def list_votes(
    services: ServicesDep, caller: CallerDep, community: Annotated[CommunityCode | None, Query()] = None
) -> list[VoteOut]:
    community_id = caller.scope(community_id_of(services, community))
    with services.sessions.begin() as session:
        return [VoteOut.model_validate(vote_json(v)) for v in store.list_votes(session, community_id=community_id)]


@router.get("/votes/{vote_id}", response_model=VoteOut, responses=answers(404))
def get_vote(vote_id: RecordId, services: ServicesDep, caller: CallerDep) -> VoteOut:
    """The vote; its totals and turnout once it has closed (never a household's ballot)."""
    with services.sessions.begin() as session:
        vote = store.vote_by_id(session, vote_id=vote_id)
        if vote is None or not caller.sees(vote.community_id):
            raise HTTPException(404, f"no vote V{vote_id}")
        return VoteOut.model_validate(vote_json(vote))


@router.post("/votes/{vote_id}/paper", status_code=201, response_model=PaperDone, responses=_REFUSALS)
def paper_ballot(vote_id: RecordId, body: PaperIn, services: ServicesDep, caller: CallerDep) -> JSONResponse:
    """Enter a paper ballot: the household is ticked off under the worker's name, the choice kept apart."""
    worker = _worker(caller, body.worker)
    try:
        with services.sessions.begin() as session:
            message = enter_paper_ballot(
                session,
                vote_id=vote_id,
                building=body.building,
                unit=body.unit,
                room=body.room,
                choice=body.choice,
                worker=worker,
                now=utcnow(),
                community_id=caller.community_id,
            )
    except VoteRefused as exc:
        return refused(404 if exc.status_code == 404 else 409, str(exc))
    return JSONResponse(PaperDone(message=message).model_dump(), status_code=201)
