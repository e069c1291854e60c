"""The workers' web console at /console: server-rendered pages (Jinja2) with htmx, in simplified Chinese.

`include_console(app)` mounts its routes and static files on the FastAPI app, and answers errors under
/console with a page rather than JSON (after the office API has installed its own handlers).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from markupsafe import escape
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.console import (
    activities,
    alerts,
    auth,
    dashboard,
    detail,
    failed,
    households,
    kb,
    points,
    tickets,
    unreachable,
)
from bot.console.render import HERE, page

Handler = Callable[[Request, Exception], Awaitable[Response] | Response]


def _in_console(request: Request) -> bool:
    return request.url.path.startswith("/console")


def include_console(app: FastAPI) -> None:
    for module in (auth, tickets, detail, failed, alerts, activities, points, kb, dashboard, unreachable, households):
        app.include_router(module.router, include_in_schema=False)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, auth.LoginRequired)
        target = f"/console/login?{_next_query(exc.next_path)}"
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    app.add_exception_handler(auth.LoginRequired, login_required)
    _chain(app, StarletteHTTPException, _http_error)
    _chain(app, RequestValidationError, _invalid)


def _next_query(path: str) -> str:
    return urlencode({"next": path})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    titles = {403: "无法完成", 404: "没有找到", 405: "不支持的操作", 503: "暂时无法使用"}
    text = exc.detail if isinstance(exc.detail, str) and exc.status_code != 405 else "请返回上一页重试。"
    if exc.status_code == 404 and text == "Not Found":
        text = "您要找的页面不存在，或者不在您负责的范围内。"
    context = {"title": titles.get(exc.status_code, "出了点问题"), "text": text, "viewer": None}
    if request.headers.get("hx-request") == "true":
        return Response(f'<p class="warn">{escape(text)}</p>', status_code=exc.status_code, media_type="text/html")
    return page(request, "message.html", context, status_code=exc.status_code)


async def _invalid(request: Request, exc: Exception) -> Response:
    context = {"title": "填写有误", "text": "有一项填写得太长或格式不对，请返回修改后再提交。", "viewer": None}
    return page(request, "message.html", context, status_code=400)


def _chain(app: FastAPI, kind: type[Exception], console: Handler) -> None:
    """Answer `kind` under /console with `console`, and elsewhere as the app already did."""
    previous = app.exception_handlers.get(kind)

    async def handler(request: Request, exc: Exception) -> Response:
        if _in_console(request):
            answer = console(request, exc)
        elif previous is not None:
            answer = previous(request, exc)
        else:
            raise exc
        return await answer if isinstance(answer, Awaitable) else answer

    app.add_exception_handler(kind, handler)
