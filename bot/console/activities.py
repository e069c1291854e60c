"""活动: the community's activities, creating and editing one, its sign-ups and check-ins, signing a
resident up (or cancelling their place) on their behalf, and a printable poster with the check-in QR.

Activities belong to a community: anyone who works in it sees them. Sign-up lists name residents, so
those pages are audited first.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from bot.console.auth import ChangeDep, ViewerDep, audit, services_of
from bot.console.people import Viewer
from bot.console.render import page
from handlers.clock import CHINA_TZ
from handlers.volunteering.activities import create_activity_with_qr
from handlers.volunteering.rules import KIND_NAMES
from storage import activities as arepo
from storage import console_activities as store
from storage.activities import Activity
from storage.models import Resident

router = APIRouter(prefix="/console")

MAX_CAPACITY = 10000
STATUS_NAMES = {"open": "报名中", "closed": "已结束", "cancelled": "已取消"}


def _communities(viewer: Viewer) -> list[int]:
    return sorted({r.community_id for r in viewer.reach})


def _activity(session: Session, viewer: Viewer, activity_id: int) -> Activity:
    activity = session.get(Activity, activity_id)
    if activity is None or activity.community_id not in _communities(viewer):
        raise HTTPException(404, "没有找到这个活动")
    return activity


def _community_of(request: Request, viewer: Viewer, activity_id: int) -> int | None:
    with services_of(request).sessions.begin() as session:
        return _activity(session, viewer, activity_id).community_id


def _local(moment: datetime) -> str:
    return f"{moment.astimezone(CHINA_TZ):%Y-%m-%dT%H:%M}"


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)


def _address(resident: Resident) -> str:
    parts = [resident.building and f"{resident.building}号楼", resident.unit and f"{resident.unit}单元"]
    parts.append(resident.room and f"{resident.room}室")
    return "".join(p for p in parts if p) or "住址未登记"


@router.get("/activities")
def activity_list(request: Request, viewer: ViewerDep, notice: str = "", warn: str = "") -> Response:
    services = services_of(request)
    with services.sessions.begin() as session:
        rows = store.activities_of(session, community_ids=_communities(viewer))
        names = {c.id: c.name for c in viewer.communities}
        listed = [(a, names.get(a.community_id or 0, "")) for a in rows]
    context = {
        "viewer": viewer,
        "active": "activities",
        "rows": listed,
        "kinds": KIND_NAMES,
        "statuses": STATUS_NAMES,
        "notice": notice[:300],
        "warn": warn[:300],
    }
    return page(request, "activities.html", context)


def _form_problems(title: str, kind: str, start: datetime | None, end: datetime | None, capacity: str) -> list[str]:
    problems = []
    if not title.strip():
        problems.append("请填写活动名称。")
    if kind not in KIND_NAMES:
        problems.append("请选择活动类型。")
    if start is None or end is None:
        problems.append("开始和结束时间请按“2026-12-05 09:00”的样子填写。")
    elif end <= start:
        problems.append("结束时间要晚于开始时间。")
    if capacity and (not capacity.isdigit() or not 1 <= int(capacity) <= MAX_CAPACITY):
        problems.append(f"人数上限请填 1 到 {MAX_CAPACITY} 之间的整数，不限人数就留空。")
    return problems


@router.get("/activities/new")
def new_activity(request: Request, viewer: ViewerDep) -> Response:
    context = {"viewer": viewer, "active": "activities", "activity": None, "kinds": KIND_NAMES}
    return page(request, "activity_form.html", context)


@router.post("/activities/new")
def create_activity(
    request: Request,
    viewer: ChangeDep,
    title: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=16)] = "",
    place: Annotated[str, Form(max_length=200)] = "",
    start: Annotated[str, Form(max_length=32)] = "",
    end: Annotated[str, Form(max_length=32)] = "",
    capacity: Annotated[str, Form(max_length=8)] = "",
    community: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    services = services_of(request)
    starts, ends = _parse_time(start), _parse_time(end)
    problems = _form_problems(title, kind, starts, ends, capacity.strip())
    info = next((c for c in viewer.communities if c.code == community), None) or (
        viewer.communities[0] if len(viewer.communities) == 1 else None
    )
    if info is None:
        problems.append("请选择社区。")
    if problems or starts is None or ends is None or info is None:
        context = {
            "viewer": viewer,
            "active": "activities",
            "activity": None,
            "kinds": KIND_NAMES,
            "warn": " ".join(problems),
            "values": {"title": title, "kind": kind, "place": place, "start": start, "end": end, "capacity": capacity},
        }
        return page(request, "activity_form.html", context, status_code=400)
    with services.sessions.begin() as session:
        activity = create_activity_with_qr(
            session,
            data_dir=services.settings.data_dir,
            title=title,
            kind=kind,
            starts_at=starts,
            ends_at=ends,
            now=services.clock(),
            community_id=info.id,
            place=place,
            capacity=int(capacity) if capacity.strip() else None,
            created_by=viewer.userid,
        )
        activity_id, code = activity.id, activity.checkin_code
    return _back(activity_id, notice=f"已创建，签到码 {code}。")


@router.get("/activities/{activity_id}")
def activity_detail(
    request: Request, activity_id: int, viewer: ViewerDep, notice: str = "", warn: str = "", find: str = ""
) -> Response:
    services = services_of(request)
    community_id = _community_of(request, viewer, activity_id)
    audit(services, request, viewer, action="read", community_id=community_id)
    with services.sessions.begin() as session:
        activity = _activity(session, viewer, activity_id)
        signups = [(s, r, _address(r)) for s, r in store.signups_of(session, activity_id=activity_id)]
        attendance = [(a, r, _address(r)) for a, r in store.attendance_of(session, activity_id=activity_id)]
        found = (
            [(r, _address(r)) for r in store.find_residents(session, community_id=community_id, text=find[:64])]
            if find.strip() and community_id is not None
            else []
        )
        context: dict[str, Any] = {
            "viewer": viewer,
            "active": "activities",
            "activity": activity,
            "kinds": KIND_NAMES,
            "statuses": STATUS_NAMES,
            "signups": signups,
            "attendance": attendance,
            "find": find[:64],
            "found": found,
            "values": {
                "title": activity.title,
                "kind": activity.kind,
                "place": activity.place,
                "start": _local(activity.starts_at),
                "end": _local(activity.ends_at),
                "capacity": str(activity.capacity or ""),
            },
            "notice": notice[:300],
            "warn": warn[:300],
        }
    return page(request, "activity.html", context)


@router.post("/activities/{activity_id}")
def edit_activity(
    request: Request,
    activity_id: int,
    viewer: ChangeDep,
    title: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=16)] = "",
    place: Annotated[str, Form(max_length=200)] = "",
    start: Annotated[str, Form(max_length=32)] = "",
    end: Annotated[str, Form(max_length=32)] = "",
    capacity: Annotated[str, Form(max_length=8)] = "",
    status: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    services = services_of(request)
    starts, ends = _parse_time(start), _parse_time(end)
    problems = _form_problems(title, kind, starts, ends, capacity.strip())
    if status and status not in STATUS_NAMES:
        problems.append("状态不对。")
    with services.sessions.begin() as session:
        activity = _activity(session, viewer, activity_id)
        limit = int(capacity) if capacity.strip().isdigit() else None
        if limit is not None and limit < activity.joined:
            problems.append(f"已有 {activity.joined} 人报名，人数上限不能少于报名人数。")
        if problems or starts is None or ends is None:
            return _back(activity_id, warn=" ".join(problems))
        activity.title, activity.kind, activity.place = title.strip(), kind, place.strip()
        activity.starts_at, activity.ends_at, activity.capacity = starts, ends, limit
        if status:
            activity.status = status
    return _back(activity_id, notice="已保存。")


@router.post("/activities/{activity_id}/signups")
def sign_up_for(
    request: Request,
    activity_id: int,
    viewer: ChangeDep,
    resident_id: Annotated[int, Form()],
    cancel: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    """Sign a resident up (an elder who phoned in), or cancel their place, on their behalf."""
    services = services_of(request)
    with services.sessions.begin() as session:
        activity = _activity(session, viewer, activity_id)
        resident = session.get(Resident, resident_id)
        if resident is None or resident.community_id != activity.community_id:
            raise HTTPException(404, "没有找到这位居民")
        name = resident.display_name or "这位居民"
        if cancel:
            if store.cancel_signup(session, activity_id=activity_id, resident_id=resident_id):
                return _back(activity_id, notice=f"已为{name}取消报名，名额已空出。")
            return _back(activity_id, warn=f"{name}没有报名这个活动。")
        result = arepo.join_activity(session, activity_id=activity_id, resident_id=resident_id, now=services.clock())
    texts = {
        "joined": (True, f"已为{name}报名。"),
        "already": (True, f"{name}已经报过名了。"),
        "full": (False, "名额已满，没能报上。"),
        "closed": (False, "活动已结束或已取消，不能报名。"),
    }
    ok, text = texts[result]
    return _back(activity_id, notice=text) if ok else _back(activity_id, warn=text)


@router.get("/activities/{activity_id}/poster")
def poster(request: Request, activity_id: int, viewer: ViewerDep) -> Response:
    with services_of(request).sessions.begin() as session:
        activity = _activity(session, viewer, activity_id)
        context = {"viewer": viewer, "activity": activity, "kinds": KIND_NAMES}
        return page(request, "poster.html", context)


@router.get("/activities/{activity_id}/qr.png")
def qr_image(request: Request, activity_id: int, viewer: ViewerDep) -> Response:
    with services_of(request).sessions.begin() as session:
        path = _activity(session, viewer, activity_id).qr_path
    if not path or not Path(path).is_file():
        raise HTTPException(404, "签到二维码还没有生成")
    return FileResponse(path, media_type="image/png")


def _back(activity_id: int, *, notice: str = "", warn: str = "") -> Response:
    query = f"notice={quote(notice)}" if notice else f"warn={quote(warn)}"
    return RedirectResponse(f"/console/activities/{activity_id}?{query}", status_code=303)
