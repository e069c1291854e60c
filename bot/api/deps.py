"""What every office API route depends on: authentication, community scoping, the audit log, the services.

A request carries `Authorization: Bearer <key>`: either a worker's own key (`shegong key issue`), bound to
one community or to all, or SHEGONG_ADMIN_TOKEN, which sees every community. Each request is written to
the audit log before the route runs; if that write fails the request is refused (503), so nothing is ever
read without a record of it. AuditStatusMiddleware adds the response status afterwards.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.api.errors import invalid
from bot.services import Services
from bot.webhook import get_services
from storage import access
from storage import repositories as repo
from storage.household_files import DEVICE_KEY_PREFIX, device_for
from storage.households import Household
from storage.models import utcnow

log = logging.getLogger(__name__)

# Paths whose answer is a bulk extract of personal data rather than a look at one record.
EXPORT_PATHS = ("/api/volunteers/report",)


@dataclass(frozen=True)
class Caller:
    actor: str  # "admin" or "worker:<userid>", as written to the audit log
    worker: str | None  # the worker a personal key belongs to; None for the admin token
    community_id: int | None  # the only community this caller may see; None: every community
    key_id: int | None = None
    # A device's key (`shegong device issue`): it may only report signals for its household.
    device_household: int | None = None

    def sees(self, community_id: int | None) -> bool:
        return self.community_id is None or community_id == self.community_id

    def scope(self, requested: int | None) -> int | None:
        """The community a listing is limited to: the caller's own, or the one asked for if allowed."""
        if self.community_id is None:
            return requested
        if requested is not None and requested != self.community_id:
            raise HTTPException(403, "this key is for another community")
        return self.community_id

    def acting_worker(self, named: str) -> str:
        """Who is doing a change: the key's owner (who may not act as someone else), or the named worker."""
        named = named.strip()
        if self.worker is not None:
            if named and named != self.worker:
                raise HTTPException(403, f"this key belongs to {self.worker}; it cannot act as {named}")
            return self.worker
        if not named:
            raise invalid(("body", "worker"), "name the worker doing this (field 'worker')")
        return named


def _authenticate(services: Services, presented: str, request: Request) -> Caller:
    admin = services.settings.admin_token
    now = utcnow()
    action = _action(request)
    query = {_storable(name): _storable(value) for name, value in list(request.query_params.items())[:_AUDIT_PARAMS]}
    try:
        with services.sessions.begin() as session:
            if admin and hmac.compare_digest(presented.encode(), admin.encode()):
                caller = Caller(actor="admin", worker=None, community_id=None)
            elif presented.startswith(DEVICE_KEY_PREFIX):
                caller = _device_caller(session, presented, request)
            else:
                key = access.key_for(session, presented)
                if key is None:
                    raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})
                key.last_used_at = now
                caller = Caller(
                    actor=f"worker:{key.worker}", worker=key.worker, community_id=key.community_id, key_id=key.id
                )
            entry = access.record(
                session,
                actor=caller.actor,
                key_id=caller.key_id,
                community_id=caller.community_id,
                action=action,
                method=request.method,
                path=_storable(request.url.path),
                query=query,
                now=now,
            )
            request.state.audit_id = entry.id
            return caller
    except SQLAlchemyError as exc:
        log.exception("audit log unavailable; API request refused")
        raise HTTPException(503, "the audit log cannot be written just now; nothing was read, try again") from exc


SIGNALS_PATH = "/api/signals"


def _device_caller(session: Session, presented: str, request: Request) -> Caller:
    """A device key is good for POST /api/signals and nothing else."""
    device = device_for(session, presented)
    household = session.get(Household, device.household_id) if device is not None else None
    if device is None or household is None or request.url.path != SIGNALS_PATH:
        raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})
    return Caller(
        actor=f"device:{device.id}", worker=None, community_id=household.community_id, device_household=household.id
    )


# What the audit row keeps of a query string: enough to tell what was asked, bounded like the row itself.
_AUDIT_PARAMS = 30
_AUDIT_TEXT = 300


def _storable(text: str) -> str:
    """Text the audit row can hold on every backend: PostgreSQL refuses NUL, and nothing can encode a lone
    surrogate. A request with either is still recorded (and then refused by the route) instead of 503."""
    text = text[:_AUDIT_TEXT].replace("\x00", "\\x00")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _action(request: Request) -> str:
    if request.method in ("GET", "HEAD"):
        return "export" if request.url.path in EXPORT_PATHS else "read"
    return "change"


_bearer = HTTPBearer(auto_error=False, description="a worker's own key (`shegong key issue`) or SHEGONG_ADMIN_TOKEN")


async def current_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    known = getattr(request.state, "caller", None)
    if isinstance(known, Caller):
        return known  # authenticated (and audited) by bot.limits before the body was read
    presented = credentials.credentials.strip() if credentials is not None else ""
    if not presented:
        raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})
    services: Services = request.app.state.services
    return await run_in_threadpool(_authenticate, services, presented, request)


async def authenticate_before_body(request: Request) -> Caller:
    """Authenticate from the headers alone, before any of the body is read; the route then finds the caller."""
    caller = await current_caller(request, await _bearer(request))
    request.state.caller = caller
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]
ServicesDep = Annotated[Services, Depends(get_services)]


def community_id_of(services: Services, code: str | None) -> int | None:
    """The id of the community with this code (404 if none), or None when no code is given."""
    if not code:
        return None
    with services.sessions.begin() as session:
        community = repo.community_by_code(session, code=code)
        if community is None:
            raise HTTPException(404, f"no community {code!r}")
        return community.id


class AuditStatusMiddleware:
    """Completes each /api/ request's audit entry with the status it was answered with (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/api/"):
            await self.app(scope, receive, send)
            return
        status = 500

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            audit_id = scope.get("state", {}).get("audit_id")
            if audit_id is not None:
                services: Services = scope["app"].state.services
                await run_in_threadpool(_set_status, services, audit_id, status)


def _set_status(services: Services, audit_id: int, status: int) -> None:
    try:
        with services.sessions.begin() as session:
            access.set_status(session, entry_id=audit_id, status=status)
    except SQLAlchemyError:
        # The request itself is already on record; only its outcome is missing.
        log.warning("could not record the status of audit entry %s", audit_id, exc_info=True)
