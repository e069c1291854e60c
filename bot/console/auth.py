"""Who is using the console: the session cookie, the CSRF check on every change, the audit row before any
resident's data is shown, and the three ways in (WeCom OAuth, a one-time link sent by the app, and in
development a list of the demo workers).

The session cookie is HttpOnly and SameSite=Lax, and Secure in production; only its digest is stored.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote, urlencode

import httpx
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from bot.clients import ApiError, WeComClient
from bot.console.people import Viewer, directory, viewer_for
from bot.console.render import page
from bot.services import Services
from storage import access
from storage import console as store

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console")

COOKIE = "shegong_console"
STATE_COOKIE = "shegong_oauth_state"
LOGIN_LINK_TTL = timedelta(minutes=10)
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    """Raised by the viewer dependency; answered with the login page (or an htmx redirect to it)."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def public_base(services: Services, request: Request) -> str:
    """The address a worker's browser reaches us at: SHEGONG_PUBLIC_URL, else the request's own."""
    return (services.settings.public_url or str(request.base_url)).rstrip("/")


def _safe_next(path: str | None) -> str:
    # Only our own pages: "//evil.example" or "https://..." would send the worker elsewhere after login.
    if path and path.startswith("/console") and not path.startswith("//"):
        return path
    return "/console/"


def _load_viewer(services: Services, token: str) -> Viewer | None:
    with services.sessions.begin() as session:
        row = store.live_session(session, token=token, now=services.clock())
        if row is None:
            return None
        return viewer_for(session, row.worker, csrf_token=row.csrf_token)


async def current_viewer(request: Request) -> Viewer:
    token = request.cookies.get(COOKIE, "")
    viewer = await run_in_threadpool(_load_viewer, services_of(request), token) if token else None
    if viewer is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target if request.method == "GET" else "/console/")
    return viewer


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


async def checked_viewer(request: Request, viewer: ViewerDep) -> Viewer:
    """The viewer of a request that changes something, once its CSRF token matches their session's."""
    presented = request.headers.get(CSRF_HEADER, "")
    if not presented:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else ""
    if not presented or not hmac.compare_digest(presented.encode(), viewer.csrf_token.encode()):
        raise HTTPException(403, "页面已过期或来源不明，请刷新页面后再试。")
    return viewer


ChangeDep = Annotated[Viewer, Depends(checked_viewer)]


def audit(
    services: Services, request: Request, viewer: Viewer, *, action: str, community_id: int | None = None
) -> None:
    """Write the audit row in its own committed transaction before anything is shown (503 if it cannot be)."""
    query = {k[:300]: v[:300] for k, v in list(request.query_params.items())[:30]}
    try:
        with services.sessions.begin() as session:
            access.record(
                session,
                actor=f"console:{viewer.userid}",
                key_id=None,
                community_id=community_id,
                action=action,
                method=request.method,
                path=request.url.path,
                query=query,
                now=services.clock(),
            )
    except SQLAlchemyError as exc:
        log.exception("audit log unavailable; console page refused")
        raise HTTPException(503, "审计日志暂时无法写入，为保护居民信息本页暂不显示，请稍后再试。") from exc


def _start_session(services: Services, request: Request, worker: str, via: str, next_path: str) -> Response:
    hours = services.settings.console_session_hours
    with services.sessions.begin() as session:
        opened = store.open_session(session, worker=worker, via=via, now=services.clock(), ttl=timedelta(hours=hours))
    response = RedirectResponse(_safe_next(next_path), status_code=303)
    response.set_cookie(
        COOKIE,
        opened.token,
        max_age=int(hours * 3600),
        httponly=True,
        samesite="lax",
        secure=not services.settings.is_development,
        path="/console",
    )
    return response


def _known(services: Services, worker: str) -> bool:
    with services.sessions.begin() as session:
        return viewer_for(session, worker) is not None


def _refusal(request: Request, title: str, text: str, status: int) -> Response:
    return page(request, "message.html", {"title": title, "text": text, "login_again": True}, status_code=status)


# --- the login page ----------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, next: str = "") -> Response:
    services = services_of(request)
    settings = services.settings
    if "wxwork" in request.headers.get("user-agent", "").lower() and settings.wecom_corp_id and settings.wecom_secret:
        # Opened from a card in WeCom's own browser: WeCom already knows who this is.
        return RedirectResponse(f"/console/oauth?{urlencode({'next': _safe_next(next)})}", status_code=303)
    return page(
        request,
        "login.html",
        {"next": _safe_next(next), "development": services.settings.is_development, "viewer": None},
    )


@router.post("/logout")
def logout(request: Request, viewer: ChangeDep) -> Response:
    services = services_of(request)
    with services.sessions.begin() as session:
        store.end_session(session, token=request.cookies.get(COOKIE, ""), now=services.clock())
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


# --- WeCom OAuth (in WeCom's own browser) -------------------------------------------------------------


@router.get("/oauth")
def oauth_start(request: Request, next: str = "") -> Response:
    services = services_of(request)
    settings = services.settings
    if not (settings.wecom_corp_id and settings.wecom_secret):
        return _refusal(
            request, "企业微信登录未配置", "请向管理员确认企业微信应用的设置，或在电脑上用登录链接进入。", 503
        )
    state = secrets.token_urlsafe(16)
    redirect_uri = f"{public_base(services, request)}/console/oauth/callback"
    query = urlencode(
        {
            "appid": settings.wecom_corp_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
            "agentid": settings.wecom_agent_id,
        },
        quote_via=quote,
    )
    target = f"{settings.wecom_oauth_base.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"
    response = RedirectResponse(target, status_code=302)
    # The state ties WeCom's answer to this browser; the next page rides along with it.
    response.set_cookie(
        STATE_COOKIE,
        f"{state}|{_safe_next(next)}",
        max_age=600,
        httponly=True,
        samesite="lax",
        secure=not settings.is_development,
        path="/console/oauth",
    )
    return response


def _userid_for_code(services: Services, code: str) -> str | None:
    client = WeComClient(services.settings, services.sessions)
    try:
        token = client.token.get()
        answer = client.http.get(
            f"{client.base}/cgi-bin/auth/getuserinfo", params={"access_token": token, "code": code}
        )
        answer.raise_for_status()
        data = answer.json()
    except (httpx.HTTPError, ApiError, ValueError):
        log.warning("WeCom getuserinfo failed", exc_info=True)
        return None
    finally:
        client.http.close()
    if int(data.get("errcode", 0) or 0) != 0:
        log.info("WeCom getuserinfo refused the code: %s", data.get("errcode"))
        return None
    userid = data.get("userid") or data.get("UserId")
    return str(userid) if userid else None


@router.get("/oauth/callback")
def oauth_callback(request: Request, code: str = "", state: str = "") -> Response:
    services = services_of(request)
    expected, _, next_path = request.cookies.get(STATE_COOKIE, "").partition("|")
    if not code or not state or not expected or not hmac.compare_digest(state.encode(), expected.encode()):
        return _refusal(request, "登录没有完成", "登录请求已过期或不是从本页发起的，请重新打开。", 400)
    userid = _userid_for_code(services, code)
    if userid is None:
        return _refusal(request, "登录没有完成", "企业微信没有确认您的身份，请从企业微信应用里重新打开。", 403)
    if not _known(services, userid):
        return _refusal(request, "没有权限", "您不在社区名册中，无法使用工作台。请联系社区负责人。", 403)
    response = _start_session(services, request, userid, "oauth", next_path)
    response.delete_cookie(STATE_COOKIE, path="/console/oauth")
    return response


# --- a one-time link sent through the WeCom app ("登录") ------------------------------------------------


def login_link_reply(services: Services, worker: str) -> str:
    """What the WeCom app answers a worker who sends "登录": a link valid 10 minutes, for one use."""
    with services.sessions.begin() as session:
        if viewer_for(session, worker) is None:
            return "您不在社区名册中，无法登录工作台。请联系社区负责人。"
        token = store.issue_login_link(session, worker=worker, now=services.clock(), ttl=LOGIN_LINK_TTL)
    base = (services.settings.public_url or "http://127.0.0.1:8000").rstrip("/")
    return f"工作台登录链接（10 分钟内有效，只能用一次，请勿转发）：\n{base}/console/link/{token}"


@router.get("/link/{token}")
def link_page(request: Request, token: str) -> Response:
    # A confirmation page rather than logging in on GET: link previews must not use up the link.
    return page(request, "link.html", {"token": token, "viewer": None})


@router.post("/link/{token}")
def use_link(request: Request, token: str) -> Response:
    services = services_of(request)
    with services.sessions.begin() as session:
        worker = store.use_login_link(session, token=token, now=services.clock())
    if worker is None or not _known(services, worker):
        return _refusal(
            request, "链接已失效", "这个登录链接已经用过或已过期。请在企业微信里给应用发送“登录”，获取新的链接。", 403
        )
    return _start_session(services, request, worker, "link", "/console/")


# --- development: pick a demo worker ---------------------------------------------------------------------


def _demo_workers(services: Services) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    with services.sessions.begin() as session:
        for _, _, info in directory(session):
            rows += [(info.name, userid, name) for userid, name in info.staff.items()]
    return rows


@router.get("/dev-login")
def dev_login_page(request: Request) -> Response:
    services = services_of(request)
    if not services.settings.is_development:
        raise HTTPException(404)
    return page(request, "dev_login.html", {"workers": _demo_workers(services), "viewer": None})


@router.post("/dev-login")
def dev_login(request: Request, userid: Annotated[str, Form(max_length=64)]) -> Response:
    services = services_of(request)
    if not services.settings.is_development:
        raise HTTPException(404)
    if not _known(services, userid):
        return _refusal(request, "没有这位工作人员", "请从列表中选择。", 400)
    return _start_session(services, request, userid, "dev", "/console/")
