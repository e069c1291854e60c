"""The public notice board at /board/<community code>: readable without logging in, on a phone or printed.

The board page, its QR poster for the lobby (and the QR PNG), and the monthly report for the residents'
council. Nothing here shows who a resident is: objections are counted, never listed. ECharts is served
from /static/echarts with its licence.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from bot.services import Services
from bot.webhook import get_services
from handlers.board import charts
from handlers.board.report import MonthlyReport, monthly_report, parse_month
from handlers.board.rules import format_yuan
from handlers.board.services import board_view
from storage import repositories as repo
from storage.models import Community

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(yuan=format_yuan)

router = APIRouter(include_in_schema=False)
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,63}$")
ServicesDep = Annotated[Services, Depends(get_services)]


class BoardMissing(Exception):
    """A board address that leads nowhere: residents get a page in Chinese, not an API error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def include_board(app: FastAPI) -> None:
    app.include_router(router)

    async def missing(request: Request, exc: Exception) -> Response:
        reason = exc.reason if isinstance(exc, BoardMissing) else ""
        return templates.TemplateResponse(request, "board_missing.html", {"reason": reason}, status_code=404)

    app.add_exception_handler(BoardMissing, missing)
    # ECharts (with its licence) and the board's stylesheet: /static/echarts/, /static/board/.
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def _community(session: Session, code: str) -> Community:
    community = repo.community_by_code(session, code=code) if _CODE.match(code) else None
    if community is None:
        raise BoardMissing(f"社区代码“{code[:64]}”没有公示栏。")
    return community


def board_url(services: Services, request: Request, code: str) -> str:
    """The address residents scan: the configured public URL, else the one this request came to."""
    base = services.settings.public_url or str(request.base_url)
    return base.rstrip("/") + f"/board/{code}"


@router.get("/board/{code}", response_class=HTMLResponse)
def board_page(code: str, request: Request, services: ServicesDep) -> HTMLResponse:
    now = services.clock()
    with services.sessions.begin() as session:
        view = board_view(session, community=_community(session, code), now=now)
    pie = charts.pie("资金用途", [(name, charts.fen_to_yuan(fen)) for name, fen in view.by_purpose])
    sources = charts.pie("资金来源", [(name, charts.fen_to_yuan(fen)) for name, fen in view.by_source])
    context: dict[str, Any] = {"view": view, "pie": pie, "sources": sources, "url": board_url(services, request, code)}
    return templates.TemplateResponse(request, "board.html", context)


@router.get("/board/{code}/poster", response_class=HTMLResponse)
def board_poster(code: str, request: Request, services: ServicesDep) -> HTMLResponse:
    with services.sessions.begin() as session:
        community = _community(session, code)
        name = community.name
    context = {"name": name, "code": code, "url": board_url(services, request, code)}
    return templates.TemplateResponse(request, "board_poster.html", context)


@router.get("/board/{code}/qr.png")
def board_qr(code: str, request: Request, services: ServicesDep) -> Response:
    import segno

    with services.sessions.begin() as session:
        _community(session, code)
    out = io.BytesIO()
    segno.make(board_url(services, request, code), error="m").save(out, kind="png", scale=10, border=2)
    return Response(out.getvalue(), media_type="image/png", headers={"Cache-Control": "public, max-age=3600"})


def report_charts(report: MonthlyReport) -> dict[str, dict[str, Any]]:
    return {
        "categories": charts.bars("本月工单（按类别）", report.tickets_by_category, unit="件"),
        "satisfaction": charts.pie(
            "居民评价", [("满意", report.satisfied), ("不满意", report.ratings - report.satisfied)], unit="条"
        ),
        "allocations": charts.pie(
            "已公示资金用途", [(name, charts.fen_to_yuan(fen)) for name, fen in report.allocations_by_purpose]
        ),
    }


@router.get("/board/{code}/report/{month}", response_class=HTMLResponse)
def report_page(code: str, month: str, request: Request, services: ServicesDep) -> HTMLResponse:
    try:
        start, end = parse_month(month)
    except ValueError as exc:
        raise BoardMissing("月份写法应为 2026-11 这样的年份和月份。") from exc
    with services.sessions.begin() as session:
        report = monthly_report(session, community=_community(session, code), month=month)
    context = {"report": report, "charts": report_charts(report), "start": start, "end": end}
    return templates.TemplateResponse(request, "report.html", context)
