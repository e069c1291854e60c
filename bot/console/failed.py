"""待人工处理: residents' messages whose handling failed three times (see bot/pipeline.py), for the workers
who answer for the whole community (the worker on duty, leaders, the street office)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bot.console.auth import ViewerDep, audit, services_of
from bot.console.render import page
from storage import repositories as repo

router = APIRouter(prefix="/console")


@router.get("/failed")
def failed_messages(request: Request, viewer: ViewerDep) -> Response:
    services = services_of(request)
    audit(services, request, viewer, action="read")
    whole = {r.community_id for r in viewer.reach if r.everything}
    names = {c.id: c.name for c in viewer.communities}
    with services.sessions.begin() as session:
        found = [m for community_id in sorted(whole) for m in repo.failed_messages(session, community_id=community_id)]
        found.sort(key=lambda m: m.received_at, reverse=True)
        rows = [
            {
                "at": m.received_at,
                "community": names.get(m.community_id or 0, "未分配社区"),
                "kind": m.msg_type,
                "text": m.content or "",
                "attempts": m.attempts,
            }
            for m in found
        ]
    return page(request, "failed.html", {"viewer": viewer, "rows": rows, "active": "failed"})
