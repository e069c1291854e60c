"""GET/POST /wecom: the WeCom (企业微信) app callback, where community workers act on tickets by message.

Protocol work as in bot/webhook.py (signature, timestamp window, AES with the corp id as receive id);
the command itself is handled by handlers.tickets.workflow in one transaction, and the answer goes back encrypted.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response

from bot.console.auth import login_link_reply
from bot.services import Services
from bot.webhook import get_services
from bot.wechat import BadMessage, Codec, new_nonce, parse_envelope, sha1_signature, signature_matches, timestamp_fresh
from handlers.participation.commands import participation_command
from handlers.tickets.actions import WORKER_HELP, WorkerCommand, act, parse_worker_command
from handlers.tickets.cards import parse_button_key
from handlers.tickets.unreachable import worker_text
from handlers.wellbeing.worker import is_worker_safecheck, worker_safecheck
from storage.models import utcnow
from storage.repositories import enqueue_outbox
from storage.wecom_cards import remember_code

log = logging.getLogger(__name__)
router = APIRouter()

ServicesDep = Annotated[Services, Depends(get_services)]


def _codec(services: Services) -> Codec | None:
    s = services.settings
    if not (s.wecom_token and s.wecom_aes_key and s.wecom_corp_id):
        return None
    return Codec.from_settings(s.wecom_token, s.wecom_corp_id, s.wecom_aes_key)


def _refuse(status: int, reason: str) -> PlainTextResponse:
    log.warning("wecom callback refused: %s", reason)
    return PlainTextResponse("forbidden" if status == 403 else "bad request", status_code=status)


@router.get("/wecom")
def verify_url(
    services: ServicesDep, msg_signature: str = "", timestamp: str = "", nonce: str = "", echostr: str = ""
) -> Response:
    codec = _codec(services)
    if codec is None:
        return _refuse(400, "WeCom token, EncodingAESKey or corp id not configured")
    if not signature_matches(sha1_signature(codec.token, timestamp, nonce, echostr), msg_signature):
        return _refuse(403, "bad msg_signature on URL check")
    if not timestamp_fresh(timestamp, window=services.settings.timestamp_window_seconds):
        return _refuse(403, "stale timestamp on URL check")
    try:
        plaintext, _ = codec.decrypt(echostr)
    except BadMessage as exc:
        return _refuse(400, str(exc))
    # WeCom compares the body with the plaintext it encrypted: no quotes, no newline.
    return PlainTextResponse(plaintext)


def _text_reply(to_user: str, from_user: str, content: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{to_user}]]></ToUserName><FromUserName><![CDATA[{from_user}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content.replace(']]>', ']]&gt;')}]]></Content></xml>"
    )


def handle_card_click(services: Services, message: dict[str, Any]) -> None:
    """A click on a ticket card's button (接单 / 办结): the same action as the text command, in one
    transaction with keeping the click's response_code, the cards' updates and the answer to the worker."""
    worker = str(message.get("FromUserName") or "")
    task_id = str(message.get("TaskId") or "")
    response_code = str(message.get("ResponseCode") or "")
    pressed = parse_button_key(str(message.get("EventKey") or ""))
    if not worker or pressed is None:
        log.warning("wecom card event without a worker or with a button that is not ours")
        return
    action, code = pressed
    # WeCom retries a callback it got no answer to: the click is one action however often it arrives.
    click = hashlib.sha256(f"{task_id}|{worker}|{response_code or message.get('CreateTime')}".encode()).hexdigest()
    try:
        with services.sessions.begin() as session:
            now = services.clock()
            if response_code:
                remember_code(session, task_id=task_id, response_code=response_code, now=now)
            outcome = act(
                session,
                services.settings,
                worker=worker,
                command=WorkerCommand(action, code),
                now=now,
                via="card",
                source_key=f"wecomcard:{click[:40]}",
            )
            enqueue_outbox(
                session,
                channel="wecom_app",
                recipient=worker,
                payload=worker_text(services.settings, outcome.message, ticket=code),
                community_id=outcome.ticket.community_id if outcome.ticket else None,
                now=now,
                dedupe_key=f"card-click:{click[:40]}",
            )
    except Exception:
        log.exception("card click failed")


def handle_worker_message(services: Services, message: dict[str, Any]) -> str | None:
    """The answer to one decrypted worker message, or None when there is nothing to say (events)."""
    kind = str(message.get("MsgType") or "")
    if kind == "event" and str(message.get("Event") or "") == "template_card_event":
        handle_card_click(services, message)
        return None
    if kind != "text":
        return None
    worker = str(message.get("FromUserName") or "")
    command = parse_worker_command(str(message.get("Content") or ""))
    if not worker:
        return None
    if str(message.get("Content") or "").strip() == "登录":
        return login_link_reply(services, worker)
    if command is None and is_worker_safecheck(str(message.get("Content") or "")):
        try:
            with services.sessions.begin() as session:
                return worker_safecheck(
                    session, worker=worker, text=str(message.get("Content") or ""), now=services.clock()
                )
        except Exception:
            log.exception("worker safecheck command failed")
            return "系统出了点问题，这条指令没有生效，请稍后再发一次。"
    if command is None:
        return _participation_command(services, worker, str(message.get("Content") or "")) or WORKER_HELP
    msg_id = str(message.get("MsgId") or "")
    source_key = f"wecom:{msg_id}" if msg_id.isdigit() else None
    try:
        # act() refuses before changing anything; an error rolls the whole transaction back.
        with services.sessions.begin() as session:
            outcome = act(
                session, services.settings, worker=worker, command=command, now=utcnow(), source_key=source_key
            )
            return outcome.message
    except Exception:
        log.exception("worker command failed")
        return "系统出了点问题，这条指令没有生效，请稍后再发一次。"


def _participation_command(services: Services, worker: str, text: str) -> str | None:
    """A proposal command ("发布 P12"), in its own transaction; None when the text is not one."""
    try:
        with services.sessions.begin() as session:
            return participation_command(session, services.settings, worker=worker, text=text, now=utcnow())
    except Exception:
        log.exception("worker proposal command failed")
        return "系统出了点问题，这条指令没有生效，请稍后再发一次。"


@router.post("/wecom")
async def receive(
    request: Request, services: ServicesDep, msg_signature: str = "", timestamp: str = "", nonce: str = ""
) -> Response:
    settings = services.settings
    body = await request.body()  # bounded before it is read: see bot/limits.py
    codec = _codec(services)
    if codec is None:
        return _refuse(400, "WeCom not configured")
    if not timestamp_fresh(timestamp, window=settings.timestamp_window_seconds):
        return _refuse(403, "stale or missing timestamp")
    try:
        envelope = parse_envelope(body)
        encrypted = envelope.get("Encrypt")
        if not isinstance(encrypted, str):
            return _refuse(400, "no Encrypt element")
        if not signature_matches(sha1_signature(codec.token, timestamp, nonce, encrypted), msg_signature):
            return _refuse(403, "bad msg_signature")
        plaintext, key_index = codec.decrypt(encrypted)
        message = parse_envelope(plaintext.encode("utf-8"))
    except BadMessage as exc:
        return _refuse(400, str(exc))
    answer = await run_in_threadpool(handle_worker_message, services, message)
    if not answer:
        return PlainTextResponse("success")
    xml = _text_reply(str(message.get("FromUserName") or ""), codec.app_id, answer)
    return Response(
        codec.encrypt(xml, key_index=key_index, nonce=nonce or new_nonce(), timestamp=timestamp),
        media_type="application/xml",
    )
