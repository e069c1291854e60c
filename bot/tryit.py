"""Try it without WeChat (development only): `/` shows a resident's phone and a worker's WeCom beside it.

Nothing here answers for the bot. Each thing typed on a phone becomes the XML WeChat or WeCom would send,
signed and encrypted with the development keys, and is posted in-process to the real /wechat and /wecom
routes (middleware, webhook, dispatcher, handlers and all); their encrypted answers are decrypted here and
shown. What the bot sends on its own leaves through the outbox as always: in development without
credentials the senders record each message as sent without touching the network (bot/outbox.py), and
the phones read those rows from the database, so what works here works in WeChat.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from sqlalchemy import or_, select

from bot.services import Services
from bot.settings import Settings
from bot.wechat import BadMessage, Codec, new_nonce, parse_envelope, sha1_signature
from handlers.notify import staff_of
from handlers.tickets.cards import CARD_UPDATE
from storage import repositories as repo
from storage.models import Community, OutboxMessage, Resident

router = APIRouter(include_in_schema=False)
COOKIE = "tryit_openid"
ACCOUNT = "gh_tryit"
TO_RESIDENT = ("wechat_custom", "wechat_template")
TO_WORKER = ("wecom_app", CARD_UPDATE)
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)


def include_tryit(app: FastAPI, settings: Settings) -> None:
    """Mount the try-it page in development only: in production `/` is not this page."""
    if settings.is_development:
        app.include_router(router)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


async def _post(request: Request, path: str, body: bytes) -> httpx.Response:
    """Through the app itself (no network): exactly what a request from WeChat's servers would meet."""
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tryit.local", timeout=30) as client:
        return await client.post(path, content=body, headers={"content-type": "text/xml"})


def _content(plain: str) -> str:
    fields = parse_envelope(plain.encode("utf-8"))
    if fields.get("Content"):
        return str(fields["Content"])
    articles = fields.get("Articles")
    if isinstance(articles, dict):
        item = articles.get("item")
        first = item[0] if isinstance(item, list) else item
        if isinstance(first, dict):
            return f"{first.get('Title', '')}\n{first.get('Description', '')}".strip()
    return f"（{fields.get('MsgType', '消息')}）"


async def _as_wechat(request: Request, xml: str) -> str:
    """Post a resident's message to /wechat in safe mode; the bot's answer ("" when it answers later)."""
    settings = _services(request).settings
    codec = Codec.from_settings(settings.wechat_token, settings.wechat_app_id, settings.wechat_aes_key)
    ts, nonce = str(int(time.time())), new_nonce()
    query = {"signature": sha1_signature(settings.wechat_token, ts, nonce), "timestamp": ts, "nonce": nonce}
    body = xml
    if codec is not None:
        envelope = parse_envelope(codec.encrypt(xml, key_index=0, nonce=nonce, timestamp=ts).encode())
        query |= {"encrypt_type": "aes", "msg_signature": str(envelope["MsgSignature"])}
        body = f"<xml><ToUserName>{_cdata(ACCOUNT)}</ToUserName><Encrypt>{_cdata(str(envelope['Encrypt']))}</Encrypt></xml>"
    response = await _post(request, "/wechat?" + urlencode(query), body.encode("utf-8"))
    if response.status_code != 200:
        return f"（公众号没有回应：HTTP {response.status_code}）"
    if response.text in ("", "success"):
        return ""
    if codec is None:
        return _content(response.text)
    try:
        plain, _ = codec.decrypt(str(parse_envelope(response.content)["Encrypt"]))
    except (BadMessage, KeyError):
        return "（回复无法解密）"
    return _content(plain)


async def _as_wecom(request: Request, xml: str) -> str:
    """Post a worker's message or card click to /wecom, encrypted as WeCom does; the answer shown to them."""
    settings = _services(request).settings
    codec = Codec.from_settings(settings.wecom_token, settings.wecom_corp_id, settings.wecom_aes_key)
    if codec is None or not settings.wecom_corp_id:
        return "（企业微信未配置：请用 make run 启动，它会生成开发用的密钥）"
    ts, nonce = str(int(time.time())), new_nonce()
    envelope = parse_envelope(codec.encrypt(xml, key_index=0, nonce=nonce, timestamp=ts).encode())
    query = {"msg_signature": str(envelope["MsgSignature"]), "timestamp": ts, "nonce": nonce}
    body = f"<xml><ToUserName>{_cdata(settings.wecom_corp_id)}</ToUserName><Encrypt>{_cdata(str(envelope['Encrypt']))}</Encrypt></xml>"
    response = await _post(request, "/wecom?" + urlencode(query), body.encode("utf-8"))
    if response.status_code != 200:
        return f"（企业微信回调出错：HTTP {response.status_code}）"
    if response.text in ("", "success"):
        return ""
    try:
        plain, _ = codec.decrypt(str(parse_envelope(response.content)["Encrypt"]))
    except (BadMessage, KeyError):
        return "（回复无法解密）"
    return _content(plain)


def _wechat_xml(openid: str, kind: str, body: str) -> str:
    return (
        f"<xml><ToUserName>{_cdata(ACCOUNT)}</ToUserName><FromUserName>{_cdata(openid)}</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType>{_cdata(kind)}</MsgType>{body}</xml>"
    )


def _wecom_xml(settings: Settings, userid: str, kind: str, body: str) -> str:
    return (
        f"<xml><ToUserName>{_cdata(settings.wecom_corp_id)}</ToUserName><FromUserName>{_cdata(userid)}</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType>{_cdata(kind)}</MsgType>{body}"
        f"<AgentID>{escape(settings.wecom_agent_id or '1')}</AgentID></xml>"
    )


def _bubble(side: str, text: str, extra: Markup | str = "") -> str:
    return str(Markup('<div class="bubble {}">{}{}</div>').format(side, text, Markup(extra)))


# --- the page ----------------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def page(request: Request) -> Response:
    services = _services(request)
    with services.sessions.begin() as session:
        communities = [c for c in repo.list_communities(session) if c.qr_scene]
        scenes = [{"scene": c.qr_scene, "name": c.name} for c in communities]
        workers: list[dict[str, str]] = []
        for community in communities:
            for userid, name in staff_of(community).items():
                if all(w["userid"] != userid for w in workers):
                    workers.append({"userid": userid, "name": f"{name}（{community.name}）"})
    openid = request.cookies.get(COOKIE) or ""
    if not re.fullmatch(r"tryit-[0-9a-f]{16}", openid):
        openid = f"tryit-{secrets.token_hex(8)}"
    html = _templates.get_template("tryit.html").render(scenes=scenes, workers=workers)
    response = HTMLResponse(html)
    response.set_cookie(COOKIE, openid, httponly=True, samesite="lax", max_age=30 * 24 * 3600)
    return response


def _openid(request: Request) -> str:
    openid = request.cookies.get(COOKIE) or ""
    return openid if re.fullmatch(r"tryit-[0-9a-f]{16}", openid) else ""


@router.post("/tryit/resident")
async def resident_says(
    request: Request, scene: Annotated[str, Form(max_length=64)], text: Annotated[str, Form(max_length=600)]
) -> Response:
    openid = _openid(request)
    if not openid:
        return JSONResponse({"bubbles": [_bubble("note", "请刷新页面后再试。")]}, status_code=400)
    text = text.strip()
    bubbles: list[str] = []
    with _services(request).sessions.begin() as session:
        resident = session.scalar(select(Resident).where(Resident.openid == openid))
        community = session.get(Community, resident.community_id) if resident and resident.community_id else None
        joined = resident is not None and resident.active and community is not None and community.qr_scene == scene
    if not joined:
        bubbles.append(_bubble("note", "（扫了社区的二维码，关注了公众号）"))
        welcome = await _as_wechat(
            request,
            _wechat_xml(
                openid,
                "event",
                f"<Event>{_cdata('subscribe')}</Event><EventKey>{_cdata('qrscene_' + scene)}</EventKey>",
            ),
        )
        if welcome:
            bubbles.append(_bubble("bot", welcome))
    if text:
        bubbles.append(_bubble("me", text))
        msg_id = secrets.randbits(62) + 1
        answer = await _as_wechat(
            request, _wechat_xml(openid, "text", f"<Content>{_cdata(text)}</Content><MsgId>{msg_id}</MsgId>")
        )
        bubbles.append(_bubble("bot", answer) if answer else _bubble("note", "（稍后通过客服消息回复）"))
    return JSONResponse({"bubbles": bubbles})


@router.post("/tryit/worker")
async def worker_says(
    request: Request, userid: Annotated[str, Form(max_length=64)], text: Annotated[str, Form(max_length=600)]
) -> Response:
    settings = _services(request).settings
    text = text.strip()
    if not text:
        return JSONResponse({"bubbles": []})
    msg_id = secrets.randbits(62) + 1
    answer = await _as_wecom(
        request,
        _wecom_xml(settings, userid, "text", f"<Content>{_cdata(text)}</Content><MsgId>{msg_id}</MsgId>"),
    )
    return JSONResponse({"bubbles": [_bubble("me", text), *([_bubble("bot", answer)] if answer else [])]})


@router.post("/tryit/click")
async def worker_clicks(
    request: Request,
    userid: Annotated[str, Form(max_length=64)],
    task_id: Annotated[str, Form(max_length=128)],
    key: Annotated[str, Form(max_length=64)],
    label: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """A click on a card's button, as WeCom reports it: a template_card_event with a fresh response_code."""
    settings = _services(request).settings
    body = (
        f"<Event>{_cdata('template_card_event')}</Event><EventKey>{_cdata(key)}</EventKey>"
        f"<TaskId>{_cdata(task_id)}</TaskId><CardType>{_cdata('button_interaction')}</CardType>"
        f"<ResponseCode>{_cdata('dev-' + secrets.token_hex(12))}</ResponseCode>"
    )
    answer = await _as_wecom(request, _wecom_xml(settings, userid, "event", body))
    bubbles = [_bubble("note", f"（点了“{label or key}”）")]
    if answer:
        bubbles.append(_bubble("bot", answer))
    return JSONResponse({"bubbles": bubbles})


# --- what the bot sent on its own, as each phone shows it ----------------------------------------------------


def _card_html(userid: str, card: dict[str, Any]) -> str:
    main = card.get("main_title") or {}
    facts = "".join(
        str(Markup("<div class='fact'><span>{}</span>{}</div>").format(f.get("keyname", ""), f.get("value", "")))
        for f in card.get("horizontal_content_list") or []
    )
    buttons = "".join(
        str(
            Markup(
                "<button class='card-button' data-userid='{}' data-task='{}' data-key='{}' data-label='{}'>{}</button>"
            ).format(userid, card.get("task_id", ""), b.get("key", ""), b.get("text", ""), b.get("text", ""))
        )
        for b in card.get("button_list") or []
    )
    return str(
        Markup(
            "<div class='card'><b>{}</b><div class='desc'>{}</div><div class='sub'>{}</div>{}<div>{}</div></div>"
        ).format(
            main.get("title", ""), main.get("desc", ""), card.get("sub_title_text", ""), Markup(facts), Markup(buttons)
        )
    )


def _to_worker(row: OutboxMessage) -> str:
    payload = row.payload
    if row.channel == CARD_UPDATE:
        change = payload.get("button") or {}
        said = change.get("replace_name") or (payload.get("template_card") or {}).get("main_title", {}).get("title")
        return _bubble("note", f"（卡片已更新：{said or '已处理'}）")
    if payload.get("msgtype") == "template_card":
        return _bubble("bot", "", _card_html(row.recipient, payload.get("template_card") or {}))
    if payload.get("msgtype") == "textcard":
        card = payload.get("textcard") or {}
        lines = re.sub(r"<[^>]+>", "\n", str(card.get("description", ""))).strip()
        return _bubble(
            "bot",
            "",
            Markup("<div class='card'><b>{}</b><div class='sub'>{}</div></div>").format(card.get("title", ""), lines),
        )
    if payload.get("msgtype") == "news":
        article = ((payload.get("news") or {}).get("articles") or [{}])[0]
        return _bubble("bot", f"【图文】{article.get('title', '')}")
    return _bubble("bot", str((payload.get("text") or {}).get("content") or payload.get("msgtype") or ""))


def _to_resident(row: OutboxMessage) -> str:
    payload = row.payload
    if row.channel == "wechat_template":
        values = [str(v.get("value", "")) for v in (payload.get("data") or {}).values() if isinstance(v, dict)]
        return _bubble("bot", "【模板消息】" + "\n".join(values))
    return _bubble("bot", str((payload.get("text") or {}).get("content") or ""))


@router.get("/tryit/feed")
def feed(request: Request, userid: str = "", r: int = 0, w: int = 0) -> Response:
    """Messages queued for this browser's resident since `r` and for the chosen worker since `w` (outbox ids)."""
    openid = _openid(request)
    with _services(request).sessions.begin() as session:
        rows = list(
            session.scalars(
                select(OutboxMessage)
                .where(
                    or_(
                        (OutboxMessage.recipient == openid)
                        & OutboxMessage.channel.in_(TO_RESIDENT)
                        & (OutboxMessage.id > r),
                        (OutboxMessage.recipient == userid[:64])
                        & OutboxMessage.channel.in_(TO_WORKER)
                        & (OutboxMessage.id > w),
                    ),
                    OutboxMessage.status != "dead",
                )
                .order_by(OutboxMessage.id)
                .limit(50)
            )
        )
        resident = [_to_resident(row) for row in rows if row.channel in TO_RESIDENT]
        worker = [_to_worker(row) for row in rows if row.channel in TO_WORKER]
        r = max([r, *(row.id for row in rows if row.channel in TO_RESIDENT)])
        w = max([w, *(row.id for row in rows if row.channel in TO_WORKER)])
    return JSONResponse({"resident": resident, "worker": worker, "r": r, "w": w})
