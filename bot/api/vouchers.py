"""Vouchers in the office API: redeem one at the counter (核销), exactly once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path

from bot.api.deps import CallerDep, ServicesDep, community_id_of, current_caller
from bot.api.errors import EVERY_ROUTE, answers
from bot.api.models import VOUCHER_CODE_LENGTH, Text, VoucherOut, VoucherUseIn
from storage import rewards as rrepo
from storage.models import utcnow

router = APIRouter(prefix="/api", tags=["vouchers"], dependencies=[Depends(current_caller)], responses=EVERY_ROUTE)


@router.post("/vouchers/{code}/use", response_model=VoucherOut, responses=answers(400, 403, 404, 409))
def use_voucher(
    code: Annotated[Text, Path(min_length=1, max_length=VOUCHER_CODE_LENGTH)],
    body: VoucherUseIn,
    services: ServicesDep,
    caller: CallerDep,
) -> VoucherOut:
    worker = caller.acting_worker(body.worker)
    community_id = caller.scope(community_id_of(services, body.community))
    try:
        with services.sessions.begin() as session:
            voucher = rrepo.use_voucher(session, code=code, worker=worker, now=utcnow(), community_id=community_id)
            return VoucherOut(code=voucher.code, used_at=voucher.used_at)
    except rrepo.VoucherRefused as exc:
        # Another community's voucher is answered as if it did not exist.
        status = 404 if exc.reason in ("unknown", "other_community") else 409
        raise HTTPException(status_code=status, detail=f"voucher refused: {exc.reason}") from exc
