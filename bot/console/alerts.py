"""警报与咨询: crisis alerts and consultation requests, scoped like tickets, with acknowledge, assign to a
colleague by name, escalate, and close with a note (handlers.alerts.handle_case does the work).

Each page shows residents' words and who they are, so the audit row is written before it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from bot.console.auth import ChangeDep, ViewerDep, audit, services_of
from bot.console.detail import full_phone
from bot.console.people import Viewer
from bot.console.render import page
from bot.services import Services
from handlers.alerts import ACTIONS, Case, case_title, handle_case
from handlers.privacy import mask_phone
from storage import alerts as store
from storage.alerts import CrisisAlert
from storage.models import Resident

router = APIRouter(prefix="/console")

DOMAIN_NAMES = {"legal": "法律", "psych": "心理", "service": "办事", "general": "其他"}
KIND_NAMES = {"alert": "警报", "consultation": "咨询"}


@dataclass(frozen=True)
class CaseRow:
    kind: str
    id: int
    title: str
    level: str
    community: str
    address: str
    text: str
    created_at: datetime
    state: str
    assignee: str


def _address(resident: Resident) -> str:
    parts = [
        f"{resident.building}号楼" if resident.building else "",
        f"{resident.unit}单元" if resident.unit else "",
        f"{resident.room}室" if resident.room else "",
    ]
    return "".join(parts) or "住址未登记"


def _state(viewer: Viewer, case: Case) -> str:
    if case.status == "closed":
        return f"已关闭（{viewer.name_of(case.closed_by)}）"
    if case.escalated_at is not None:
        return "已上报负责人"
    if case.acknowledged_at is not None:
        return f"已确认（{viewer.name_of(case.acknowledged_by)}）"
    return "待确认"


def _row(viewer: Viewer, case: Case, resident: Resident) -> CaseRow:
    info = viewer.community(case.community_id) if case.community_id else None
    alert = isinstance(case, CrisisAlert)
    return CaseRow(
        kind="alert" if alert else "consultation",
        id=case.id,
        title=case_title(case),
        level=case.level if isinstance(case, CrisisAlert) else "consult",
        community=info.name if info else "未分配社区",
        address=_address(resident),
        text=case.text if isinstance(case, CrisisAlert) else case.question,
        created_at=case.created_at,
        state=_state(viewer, case),
        assignee=viewer.name_of(case.assigned_to),
    )


@router.get("/alerts")
def alert_list(request: Request, viewer: ViewerDep, closed: str = "") -> Response:
    services = services_of(request)
    audit(services, request, viewer, action="read")
    done = closed == "1"
    with services.sessions.begin() as session:
        alerts = [_row(viewer, a, r) for a, r in store.visible_alerts(session, reach=viewer.reach, closed=done)]
        consultations = [
            _row(viewer, c, r) for c, r in store.visible_consultations(session, reach=viewer.reach, closed=done)
        ]
    context = {"viewer": viewer, "alerts": alerts, "consultations": consultations, "closed": done, "active": "alerts"}
    return page(request, "alerts.html", context)


def _kind(kind: str) -> str:
    if kind not in KIND_NAMES:
        raise HTTPException(404, "没有找到这条记录")
    return kind


def _visible(session: Session, viewer: Viewer, kind: str, case_id: int) -> tuple[Case, Resident]:
    found = store.visible_case(session, kind=_kind(kind), case_id=case_id, reach=viewer.reach)
    if found is None:
        # Another grid's alert is answered as if it did not exist.
        raise HTTPException(404, f"没有找到这条{KIND_NAMES[kind]}")
    return found


def _community_of(services: Services, viewer: Viewer, kind: str, case_id: int) -> int | None:
    with services.sessions.begin() as session:
        case, _ = _visible(session, viewer, kind, case_id)
        return case.community_id


@router.get("/alerts/{kind}/{case_id}")
def case_detail(
    request: Request, kind: str, case_id: int, viewer: ViewerDep, notice: str = "", warn: str = ""
) -> Response:
    services = services_of(request)
    community_id = _community_of(services, viewer, kind, case_id)
    audit(services, request, viewer, action="read", community_id=community_id)
    with services.sessions.begin() as session:
        case, resident = _visible(session, viewer, kind, case_id)
        phone = full_phone(session, services.settings, resident)
        info = viewer.community(case.community_id) if case.community_id else None
        context: dict[str, Any] = {
            "viewer": viewer,
            "active": "alerts",
            "case": _row(viewer, case, resident),
            "raw": case,
            "domain": DOMAIN_NAMES.get(getattr(case, "domain", ""), ""),
            "resident_name": resident.display_name or "居民（未留姓名）",
            "masked_phone": mask_phone(phone) if phone else "未登记",
            "has_phone": phone is not None,
            "staff": sorted(info.staff.items(), key=lambda p: p[1]) if info else [],
            "notice": notice[:300],
            "warn": warn[:300],
        }
    return page(request, "alert.html", context)


@router.post("/alerts/{kind}/{case_id}/phone")
def reveal_phone(request: Request, kind: str, case_id: int, viewer: ChangeDep) -> Response:
    """A resident in crisis must be called: whoever sees the alert may see the number, and it is on record."""
    services = services_of(request)
    community_id = _community_of(services, viewer, kind, case_id)
    audit(services, request, viewer, action="reveal", community_id=community_id)
    with services.sessions.begin() as session:
        _, resident = _visible(session, viewer, kind, case_id)
        phone = full_phone(session, services.settings, resident)
    if phone is None:
        return HTMLResponse('<span class="phone">未登记</span>')
    return HTMLResponse(f'<a class="phone full" href="tel:{quote(phone)}">{phone}</a>')


def _target(viewer: Viewer, community_id: int | None, text: str) -> str | None:
    """A colleague chosen by userid (the list) or typed by name ("刘师傅")."""
    info = viewer.community(community_id) if community_id else None
    staff = info.staff if info else {}
    if text in staff:
        return text
    exact = [uid for uid, name in staff.items() if name == text]
    # "刘师傅" for "物业电工班 刘师傅", as workers say it; only when it names one person.
    partial = [uid for uid, name in staff.items() if text and text in name]
    found = exact or partial
    return found[0] if len(found) == 1 else None


@router.post("/alerts/{kind}/{case_id}/act")
def case_action(
    request: Request,
    kind: str,
    case_id: int,
    viewer: ChangeDep,
    action: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=1000)] = "",
    target: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    services = services_of(request)
    if action not in ACTIONS:
        return _back(kind, case_id, warn="请选择要做的操作。")
    with services.sessions.begin() as session:
        case, _ = _visible(session, viewer, kind, case_id)
        userid = _target(viewer, case.community_id, target.strip()) if action == "assign" else ""
        if action == "assign" and userid is None:
            return _back(kind, case_id, warn=f"名册里没有“{target.strip()[:20]}”，请从列表中选择。")
        outcome = handle_case(
            session,
            services.settings,
            case,
            action=action,
            worker=viewer.userid,
            now=services.clock(),
            target=userid or "",
            note=note,
        )
    return _back(kind, case_id, notice=outcome.text) if outcome.ok else _back(kind, case_id, warn=outcome.text)


def _back(kind: str, case_id: int, *, notice: str = "", warn: str = "") -> Response:
    query = f"notice={quote(notice)}" if notice else f"warn={quote(warn)}"
    return RedirectResponse(f"/console/alerts/{kind}/{case_id}?{query}", status_code=303)
