"""The console's templates and the small pure functions they use (Beijing time, countdowns, names)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from handlers.clock import CHINA_TZ
from handlers.tickets.notices import STATUS_NAMES
from handlers.tickets.rules import CATEGORY_NAMES, COLOUR_NAMES
from handlers.tickets.workdays import format_local

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")


def local_time(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(CHINA_TZ)
    return f"{local:%Y-%m-%d %H:%M}"


def countdown(due: datetime, now: datetime) -> str:
    """ "剩 2 天 3 小时" before the deadline, "超时 5 小时" after it."""
    seconds = int((due - now).total_seconds())
    late = seconds < 0
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        span = f"{days} 天 {hours} 小时"
    elif hours:
        span = f"{hours} 小时 {minutes} 分"
    else:
        span = f"{minutes} 分钟"
    return f"超时 {span}" if late else f"剩 {span}"


STATUS_LABELS = STATUS_NAMES | {"resolved": "已办结，待评价", "merged": "已合并"}

templates.env.globals.update(
    STATUS_LABELS=STATUS_LABELS, CATEGORY_NAMES=CATEGORY_NAMES, COLOUR_NAMES=COLOUR_NAMES, format_local=format_local
)
templates.env.filters.update(local_time=local_time)


def page(request: Request, name: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[object]], *, now: datetime) -> Response:
    """A spreadsheet download: UTF-8 with the byte-order mark Excel needs, residents' words kept as words."""
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads UTF-8 only with a byte-order mark
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) if isinstance(value, str) else value for value in row])
    stamp = now.astimezone(CHINA_TZ).strftime("%Y%m%d-%H%M")
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}-{stamp}.csv"'},
    )


def _cell(text: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: a resident's words must stay words.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
