"""GET/POST /wechat: protocol work only. Verify, decrypt, parse, record, hand over, render, encrypt."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from bot import metrics
from bot.pipeline import Handoff, ReplayRefused, handle_message, record_message, stored_reply
from bot.services import Services
from bot.wechat import (
    BadMessage,
    Codec,
    inbound_from_fields,
    new_nonce,
    parse_envelope,
    render_reply,
    sha1_signature,
    signature_matches,
    timestamp_fresh,
    to_inbound,
)
from handlers.messages import Inbound, Reply

log = logging.getLogger(__name__)
router = APIRouter()

SUCCESS = PlainTextResponse("success")


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_executor(request: Request) -> ThreadPoolExecutor:
    executor: ThreadPoolExecutor = request.app.state.executor
    return executor


ServicesDep = Annotated[Services, Depends(get_services)]


def _forbidden(reason: str) -> PlainTextResponse:
    log.warning("wechat callback refused: %s", reason)
    return PlainTextResponse("forbidden", status_code=403)


def _bad_request(reason: str) -> PlainTextResponse:
    log.warning("wechat callback unreadable: %s", reason)
    return PlainTextResponse("bad request", status_code=400)


@router.get("/wechat")
def verify_url(
    services: ServicesDep,
    signature: str = "",
    timestamp: str = "",
    nonce: str = "",
    echostr: str = "",
) -> Response:
    settings = services.settings
    expected = sha1_signature(settings.wechat_token, timestamp, nonce)
    if not signature_matches(expected, signature):
        return _forbidden("bad signature on URL check")
    if not timestamp_fresh(timestamp, window=settings.timestamp_window_seconds):
        return _forbidden("stale timestamp on URL check")
    # Byte for byte as text/plain: WeChat compares the body with what it sent.
    return PlainTextResponse(echostr)


@router.post("/wechat")
async def receive(
    request: Request,
    services: ServicesDep,
    executor: Annotated[ThreadPoolExecutor, Depends(get_executor)],
    signature: str = "",
    timestamp: str = "",
    nonce: str = "",
    encrypt_type: str = Query("raw"),
    msg_signature: str = "",
) -> Response:
    started = time.monotonic()
    settings = services.settings
    body = await request.body()  # bounded before it is read: see bot/limits.py
    if not timestamp_fresh(timestamp, window=settings.timestamp_window_seconds):
        return _forbidden("stale or missing timestamp")
    # In encrypted mode msg_signature is what counts; a plain signature, when sent, must match too.
    plain_ok = signature_matches(sha1_signature(settings.wechat_token, timestamp, nonce), signature)
    if (signature or encrypt_type != "aes") and not plain_ok:
        return _forbidden("bad signature")

    codec: Codec | None = None
    key_index = 0
    try:
        envelope = parse_envelope(body)
        if encrypt_type == "aes":
            codec = request.app.state.codec
            encrypted = envelope.get("Encrypt")
            if codec is None or not isinstance(encrypted, str):
                return _bad_request("encrypted mode without key or Encrypt element")
            expected = sha1_signature(settings.wechat_token, timestamp, nonce, encrypted)
            if not signature_matches(expected, msg_signature):
                return _forbidden("bad msg_signature")
            plaintext, key_index = codec.decrypt(encrypted)
            msg = to_inbound(plaintext)
        else:
            # In plaintext mode the envelope is the message: parsed once.
            msg = inbound_from_fields(envelope)
    except BadMessage as exc:
        return _bad_request(str(exc))
    except UnicodeDecodeError:
        return _bad_request("body is not UTF-8")

    try:
        # In plaintext mode the signature does not cover the body: the signed URL is good for one message.
        url_key = None if codec is not None else hashlib.sha1(f"{timestamp}:{nonce}:{signature}".encode()).hexdigest()
        reply = await _handle(services, executor, msg, started=started, url_key=url_key)
        metrics.observe_reply_since(started, budget=settings.reply_budget_seconds)
    except ReplayRefused:
        return _forbidden("a callback URL seen before, with another message")
    except SQLAlchemyError:
        # Unrecorded means unanswered: let WeChat retry rather than lose the message.
        log.exception("database unavailable for inbound message")
        return PlainTextResponse("service unavailable", status_code=503)
    if reply is None:
        return SUCCESS
    xml = render_reply(reply, to_user=msg.sender, from_user=str(envelope.get("ToUserName") or ""))
    if xml is None:
        return SUCCESS
    if codec is not None:
        xml = codec.encrypt(xml, key_index=key_index, nonce=nonce or new_nonce(), timestamp=timestamp)
    return Response(xml, media_type="application/xml")


async def _handle(
    services: Services, executor: ThreadPoolExecutor, msg: Inbound, *, started: float, url_key: str | None = None
) -> Reply | None:
    """Record and handle the message in one job on the pool, within a budget counted from the request's start.

    Past the budget the webhook answers "success" and the reply leaves as a customer-service message. While
    the message is not yet recorded it waits instead (an unrecorded message must not be acknowledged): a
    database error then answers 503 so WeChat retries, and the handler's reply goes out pushed.
    """
    loop = asyncio.get_running_loop()
    recorded = asyncio.Event()

    def on_recorded() -> None:
        loop.call_soon_threadsafe(recorded.set)

    handoff = Handoff(on_recorded=on_recorded)
    job = loop.run_in_executor(executor, _record_and_handle, services, msg, handoff, url_key)
    left = services.settings.reply_budget_seconds - (time.monotonic() - started)
    try:
        return await asyncio.wait_for(asyncio.shield(job), timeout=max(left, 0.0))
    except TimeoutError:
        if not handoff.expire():
            return await job  # the reply was committed to the response a moment ago
    waiter: asyncio.Future[Any] = asyncio.ensure_future(recorded.wait())
    await asyncio.wait([waiter, job], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if not recorded.is_set():
        job.result()  # recording failed: its error answers 503 and WeChat retries
    log.info("reply to inbound %s will go out as a customer-service message", handoff.inbound_id)
    return None


def _record_and_handle(services: Services, msg: Inbound, handoff: Handoff, url_key: str | None) -> Reply | None:
    recorded = record_message(services, msg, url_key=url_key)
    handoff.mark_recorded(recorded.inbound_id)
    if not recorded.created and recorded.status != "received":
        # WeChat's retry of a message we have: same reply, no second set of side effects. ("received"
        # means the first delivery was recorded but never handled, the database failing mid-way: handle it.)
        metrics.count_message(msg.kind, "duplicate")
        return stored_reply(services, recorded.inbound_id)[1]
    handled = handle_message(services, msg, recorded.inbound_id, handoff=handoff)
    metrics.count_message(msg.kind, handled.status if handled else "duplicate")
    if handled is None:
        # A concurrent delivery of this message held the claim and has now finished it (the claim
        # commits with the reply, so until then the row still reads "received"): answer as it did.
        return stored_reply(services, recorded.inbound_id)[1]
    return handled.reply
