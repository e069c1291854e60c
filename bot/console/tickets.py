"""工单: the list a worker works from (tabs, filters, deadline order, bulk actions, CSV of what is shown).

Every action goes through handlers.tickets.actions.act, as the WeCom commands and the API do.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from bot.console.auth import ChangeDep, ViewerDep, audit, services_of
from bot.console.people import Viewer
from bot.console.render import STATUS_LABELS, countdown, csv_response, local_time, page
from bot.services import Services
from handlers.clock import CHINA_TZ
from handlers.tickets.actions import WorkerCommand, act
from handlers.tickets.rules import CATEGORY_NAMES, COLOUR_NAMES
from storage import console as store
from storage import tickets as tickets_store
from storage.tickets import STATUSES, Ticket

router = APIRouter(prefix="/console")

PAGE_SIZE = 50
EXPORT_LIMIT = 5000
TAB_NAMES = {"mine": "我的", "unassigned": "待接单", "overdue": "已超时", "all": "全部"}
FILTER_KEYS = ("tab", "community", "grid", "building", "category", "colour", "status", "from", "to")


@dataclass(frozen=True)
class ListQuery:
    """The list's filters as the worker chose them, and what the database is asked for."""

    values: dict[str, str]
    where: store.ConsoleFilter
    problems: list[str] = field(default_factory=list)
    page: int = 1

    def link(self, **changes: str) -> str:
        merged = {k: v for k, v in (self.values | changes).items() if v}
        return "/console/tickets" + (f"?{urlencode(merged)}" if merged else "")

    def csv_link(self) -> str:
        merged = {k: v for k, v in self.values.items() if v}
        return "/console/tickets.csv" + (f"?{urlencode(merged)}" if merged else "")


def _date(text: str, label: str, problems: list[str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append(f"{label}“{text[:20]}”不是日期（如 2026-11-23），已忽略。")
        return None


def parse_query(request: Request, viewer: Viewer) -> ListQuery:
    """Unknown or malformed filters are named and ignored: a bad link still shows a list, never an error."""
    raw = {key: request.query_params.get(key, "").strip()[:64] for key in FILTER_KEYS}
    problems: list[str] = []
    tab = raw["tab"] if raw["tab"] in store.TABS else "mine"
    raw["tab"] = tab
    where = store.ConsoleFilter(tab=tab, worker=viewer.userid)
    if raw["community"]:
        info = next((c for c in viewer.communities if c.code == raw["community"]), None)
        if info is None:
            problems.append(f"没有您能查看的社区“{raw['community']}”，已显示全部。")
            raw["community"] = ""
        else:
            where = replace(where, community_id=info.id)
    if raw["grid"]:
        grids = [
            (c, g)
            for c in viewer.communities
            if where.community_id in (None, c.id)
            for g in c.grids
            if g.code == raw["grid"]
        ]
        if grids:
            community, grid = grids[0]
            where = replace(where, community_id=community.id, buildings=grid.buildings)
        else:
            problems.append(f"没有网格“{raw['grid']}”，已忽略。")
            raw["grid"] = ""
    for key, known in (("category", CATEGORY_NAMES), ("colour", COLOUR_NAMES), ("status", STATUS_LABELS)):
        if raw[key] and raw[key] not in known:
            problems.append(f"“{raw[key]}”不是可选的值，已忽略。")
            raw[key] = ""
    start, end = _date(raw["from"], "开始日期", problems), _date(raw["to"], "结束日期", problems)
    where = replace(
        where,
        building=raw["building"] or None,
        category=raw["category"] or None,
        colour=raw["colour"] or None,
        status=raw["status"] or None,
        created_from=datetime.combine(start, time(), CHINA_TZ) if start else None,
        created_before=datetime.combine(end + timedelta(days=1), time(), CHINA_TZ) if end else None,
    )
    page_text = request.query_params.get("page", "1")
    number = int(page_text) if page_text.isdigit() and 0 < len(page_text) < 6 else 1
    return ListQuery(raw, where, problems, max(number, 1))


@dataclass(frozen=True)
class Row:
    ticket: Ticket
    community: str
    assignee: str
    countdown: str
    late: bool


def _rows(viewer: Viewer, tickets: list[Ticket], now: datetime) -> list[Row]:
    rows = []
    for t in tickets:
        info = viewer.community(t.community_id)
        late = t.is_open and t.due_at < now
        rows.append(
            Row(
                ticket=t,
                community=info.name if info else "",
                assignee=viewer.name_of(t.assignee),
                countdown=countdown(t.due_at, now)
                if t.is_open
                else f"{local_time(t.resolved_at or t.updated_at)} 办结",
                late=late,
            )
        )
    return rows


@router.get("/")
def home() -> Response:
    return RedirectResponse("/console/tickets", status_code=303)


@router.get("/tickets")
def ticket_list(request: Request, viewer: ViewerDep, notice: str = "") -> Response:
    services = services_of(request)
    query = parse_query(request, viewer)
    audit(services, request, viewer, action="read", community_id=query.where.community_id)
    now = services.clock()
    with services.sessions.begin() as session:
        tickets = store.ticket_page(
            session,
            reach=viewer.reach,
            where=query.where,
            now=now,
            limit=PAGE_SIZE,
            offset=(query.page - 1) * PAGE_SIZE,
        )
        total = store.ticket_count(session, reach=viewer.reach, where=query.where, now=now)
        counts = {
            tab: store.ticket_count(session, reach=viewer.reach, where=replace(query.where, tab=tab), now=now)
            for tab in store.TABS
        }
    context = {
        "viewer": viewer,
        "query": query,
        "rows": _rows(viewer, tickets, now),
        "total": total,
        "counts": counts,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "tabs": TAB_NAMES,
        "statuses": STATUSES,
        "notice": notice[:300],
        "community_options": [(c.code, c.name) for c in viewer.communities],
        "staff": sorted({(uid, name) for c in viewer.communities for uid, name in c.staff.items()}, key=lambda p: p[1]),
    }
    partial = request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "ticket-rows"
    return page(request, "_ticket_rows.html" if partial else "tickets.html", context)


@router.get("/tickets.csv")
def ticket_csv(request: Request, viewer: ViewerDep) -> Response:
    """What the list shows (every page of it, up to EXPORT_LIMIT rows), as a spreadsheet opens it."""
    services = services_of(request)
    query = parse_query(request, viewer)
    audit(services, request, viewer, action="export", community_id=query.where.community_id)
    now = services.clock()
    with services.sessions.begin() as session:
        tickets = store.ticket_page(session, reach=viewer.reach, where=query.where, now=now, limit=EXPORT_LIMIT)
        rows = _rows(viewer, tickets, now)
    header = [
        "工单号",
        "社区",
        "类别",
        "紧急程度",
        "状态",
        "地点",
        "负责人",
        "处理时限",
        "剩余时间",
        "登记时间",
        "居民反映",
    ]
    lines = [
        [
            row.ticket.code,
            row.community,
            CATEGORY_NAMES.get(row.ticket.category, row.ticket.category),
            COLOUR_NAMES.get(row.ticket.colour, row.ticket.colour),
            STATUS_LABELS.get(row.ticket.status, row.ticket.status),
            row.ticket.place,
            row.assignee,
            local_time(row.ticket.due_at),
            row.countdown,
            local_time(row.ticket.created_at),
            row.ticket.description,
        ]
        for row in rows
    ]
    return csv_response("tickets", header, lines, now=now)


class BulkForm(BaseModel):
    action: str = Field(pattern="^(accept|transfer|resolve)$")
    codes: list[Annotated[str, Field(min_length=4, max_length=10)]] = Field(min_length=1, max_length=200)
    target: str = Field(default="", max_length=64)
    note: str = Field(default="", max_length=500)
    back: str = Field(default="/console/tickets", max_length=500)


@router.post("/tickets/bulk")
def bulk_action(
    request: Request,
    viewer: ChangeDep,
    action: Annotated[str, Form()] = "",
    codes: Annotated[list[str] | None, Form()] = None,
    target: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "/console/tickets",
) -> Response:
    services = services_of(request)
    back = back if back.startswith("/console/tickets") else "/console/tickets"
    try:
        form = BulkForm(action=action, codes=codes or [], target=target.strip(), note=note.strip(), back=back)
    except ValueError:
        return _back(back, "请先勾选工单，并选择要做的操作（接单、转派、办结）。")
    if form.action == "transfer" and not form.target:
        return _back(back, "转派请选择接手的工作人员。")
    done: list[str] = []
    refused: list[str] = []
    for code in dict.fromkeys(c.strip().upper() for c in form.codes):
        message = act_on(services, viewer, code, form.action, note=form.note, target=form.target)
        (done if message.ok else refused).append(message.text)
    summary = f"已处理 {len(done)} 件" + (f"；未处理 {len(refused)} 件：" + "；".join(refused[:5]) if refused else "。")
    return _back(back, summary)


def _back(back: str, notice: str) -> Response:
    joiner = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{joiner}{urlencode({'notice': notice})}", status_code=303)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    text: str
    delivered: bool | None = None


def act_on(services: Services, viewer: Viewer, code: str, action: str, *, note: str = "", target: str = "") -> Outcome:
    """One worker action on a ticket the viewer can see, through the same service as the WeCom commands."""
    with services.sessions.begin() as session:
        ticket = tickets_store.ticket_by_code(session, code=code)
        if ticket is None or not viewer.sees(ticket):
            return Outcome(False, f"没有找到工单 {code}")
        if action == "merge":
            into = tickets_store.ticket_by_code(session, code=target.strip()[:10]) if target.strip() else None
            if into is not None and not viewer.sees(into):
                return Outcome(False, f"没有找到本社区的工单 {target.strip()[:10].upper()}，请核对工单号。")
        result = act(
            session,
            services.settings,
            worker=viewer.userid,
            command=WorkerCommand(action=action, code=ticket.code, note=note, target=target),
            now=services.clock(),
            via="console",
        )
        return Outcome(result.ok, result.message, result.delivered)
