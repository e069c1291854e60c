"""居民收不到: residents a message about their ticket could not reach (the 48 h window had closed with no
template, they unfollowed, or WeChat refused it), so that someone phones them. Whoever holds the ticket and
the leaders see the whole number (the page is audited as a reveal when it shows one); anyone else a masked one.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bot.console.auth import ViewerDep, audit, services_of
from bot.console.people import Viewer
from bot.console.render import csv_response, local_time, page
from handlers.notify import resident_address
from handlers.privacy import mask_phone
from handlers.tickets.notices import phone_of
from storage.unreachable import unreachable_page

router = APIRouter(prefix="/console")

REASONS = {
    "outside the 48 h window and no template message is configured": "超过 48 小时且没有模板消息",
    "the resident unfollowed the account": "居民已取消关注",
}


def _reason(text: str) -> str:
    for known, said in REASONS.items():
        if known in text:
            return said
    return "微信拒收" if text else "发送失败"


def _rows(request: Request, viewer: Viewer) -> list[dict[str, Any]]:
    """Who could not be told, newest first; the page is audited as a reveal when a whole number shows."""
    services = services_of(request)
    revealed = False
    with services.sessions.begin() as session:
        rows = []
        for event, ticket, resident in unreachable_page(session, reach=viewer.reach, limit=200):
            phone = phone_of(session, services.settings, resident) if resident is not None else None
            if phone and viewer.sees_phone(ticket):
                revealed = True
            elif phone:
                phone = mask_phone(phone)
            rows.append(
                {
                    "at": event.created_at,
                    "code": ticket.code,
                    "name": (resident.display_name if resident else None) or "居民",
                    "address": resident_address(resident) if resident else "住址未登记",
                    "phone": phone or "未登记",
                    "what": event.note or "",
                    "reason": _reason(str(event.data.get("reason") or "")),
                    "worker": viewer.name_of(event.data.get("worker") or ticket.assignee),
                }
            )
    if revealed:
        audit(services, request, viewer, action="reveal")
    return rows


@router.get("/unreachable")
def unreachable_residents(request: Request, viewer: ViewerDep) -> Response:
    audit(services_of(request), request, viewer, action="read")
    rows = _rows(request, viewer)
    return page(request, "unreachable.html", {"viewer": viewer, "rows": rows, "active": "unreachable"})


@router.get("/unreachable.csv")
def unreachable_csv(request: Request, viewer: ViewerDep) -> Response:
    """The same list as a spreadsheet, for whoever rings round."""
    services = services_of(request)
    audit(services, request, viewer, action="export")
    header = ["时间", "工单号", "居民", "住址", "电话", "没送到的话", "原因", "负责人"]
    lines = [
        [local_time(r["at"]), r["code"], r["name"], r["address"], r["phone"], r["what"], r["reason"], r["worker"]]
        for r in _rows(request, viewer)
    ]
    return csv_response("unreachable", header, lines, now=services.clock())
