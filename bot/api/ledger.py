"""The points ledger in the office API: reverse an entry, which appends its opposite (the ledger is append-only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path

from bot.api.deps import CallerDep, ServicesDep, current_caller
from bot.api.errors import EVERY_ROUTE, answers
from bot.api.models import BIGINT_MAX, ReversalOut, ReverseIn
from storage import ledger as lrepo
from storage.models import utcnow

router = APIRouter(prefix="/api", tags=["ledger"], dependencies=[Depends(current_caller)], responses=EVERY_ROUTE)


@router.post(
    "/ledger/{entry_id}/reverse", status_code=201, response_model=ReversalOut, responses=answers(400, 403, 404, 409)
)
def reverse_entry(
    entry_id: Annotated[int, Path(ge=1, le=BIGINT_MAX)], body: ReverseIn, services: ServicesDep, caller: CallerDep
) -> ReversalOut:
    worker = caller.acting_worker(body.worker)
    try:
        with services.sessions.begin() as session:
            original = session.get(lrepo.LedgerEntry, entry_id)
            if original is None or not caller.sees(original.community_id):
                raise lrepo.EntryNotFound(f"no ledger entry {entry_id}")
            entry = lrepo.reverse_entry(session, entry_id=entry_id, reason=body.reason, worker=worker, now=utcnow())
            return ReversalOut(id=entry.id, reverses=entry_id, amount=entry.amount, unit=entry.unit)
    except lrepo.EntryNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except lrepo.LedgerError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
