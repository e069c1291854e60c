"""Messages that leave through the outbox: WeCom cards to community workers, pushes to residents.

Every function runs inside the caller's transaction; a message leaves only if the change that caused it
commits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any, Literal

from sqlalchemy.orm import Session

from handlers.base import Context
from handlers.communities import spec_of
from handlers.runtime import Settings
from handlers.service_window import push_fits_window
from storage import repositories as repo
from storage.alerts import record_alert
from storage.models import Community, Resident

log = logging.getLogger(__name__)

# --- WeCom cards to workers -------------------------------------------------------------------------------

# The three text styles a WeCom textcard description knows.
CardLine = tuple[Literal["highlight", "gray", "normal"], str]


# Where the console is when SHEGONG_PUBLIC_URL is not set (development on one machine).
LOCAL_CONSOLE = "http://127.0.0.1:8000"


def console_url(settings: Settings, path: str) -> str:
    """The console page a card leads to: WeCom's textcard needs an absolute http(s) url."""
    return (settings.public_url or LOCAL_CONSOLE).rstrip("/") + path


def staff_of(community: Community | None) -> dict[str, str]:
    """The community's workers who act on tickets, name by WeCom userid, as the community file lists them."""
    if community is None:
        return {}
    spec = spec_of(community)
    people = [spec.duty, *(g.worker for g in spec.grids), *spec.teams.values()]
    if spec.escalation:
        people += [spec.escalation.leader, spec.escalation.street]
    staff: dict[str, str] = {}
    for person in people:
        if person is not None:
            staff.setdefault(person.wecom_userid, person.name)
    return staff


def worker_name(community: Community | None, userid: str | None) -> str:
    """What a card calls a worker: their name from the community file, else their WeCom userid."""
    if not userid:
        return "未指定"
    return staff_of(community).get(userid, userid)


def wecom_card(title: str, lines: Sequence[CardLine], *, url: str = "", button: str = "详情") -> dict[str, Any]:
    """A WeCom app "textcard" payload: a title and a few styled lines of description."""
    # The description is HTML: a resident's words (or a name) must not open a tag of their own.
    description = "".join(f'<div class="{style}">{escape(text, quote=False)}</div>' for style, text in lines)
    return {
        "msgtype": "textcard",
        "textcard": {"title": title, "description": description, "url": url, "btntxt": button},
    }


def _duty_of(community: Community) -> str | None:
    duty = spec_of(community).duty
    return duty.wecom_userid if duty else None


def duty_worker(ctx: Context) -> str | None:
    """The community's worker on duty; for a resident whose community is not known yet, the first
    community's, so that an alert always reaches someone who can pass it on."""
    if ctx.community is not None:
        return _duty_of(ctx.community)
    for community in repo.list_communities(ctx.session):
        if user := _duty_of(community):
            return user
    return None


def resident_address(r: Resident) -> str:
    parts = []
    if r.building:
        parts.append(f"{r.building}号楼")
    if r.unit:
        parts.append(f"{r.unit}单元")
    if r.room:
        parts.append(f"{r.room}室")
    return "".join(parts) or "住址未登记"


def resident_place(ctx: Context) -> str:
    return resident_address(ctx.resident)


def alert_duty_worker(ctx: Context, *, label: str, text: str, level: str) -> None:
    """A red alert to the worker on duty; one per inbound message even if WeChat retries."""
    recipient = duty_worker(ctx)
    alert = record_alert(
        ctx.session,
        community_id=ctx.community_id,
        resident_id=ctx.resident.id,
        inbound_id=ctx.inbound_id,
        level=level,
        label=label,
        text=text,
        recipient=recipient,
        now=ctx.now,
    )
    community = ctx.community.name if ctx.community else "未分配社区"
    colour = {"red": "红色", "yellow": "黄色", "blue": "蓝色"}.get(level, level)
    card = wecom_card(
        f"【{colour}】{label}",
        [
            ("highlight", f"{colour}警报：{label}"),
            ("gray", f"{community} · {resident_place(ctx)}"),
            ("normal", f"居民原话：{text[:200]}"),
            ("normal", "请立即电话或上门联系，处理后在工作台登记。"),
        ],
        url=console_url(ctx.settings, f"/console/alerts/alert/{alert.id}"),
    )
    ctx.send_later(
        channel="wecom_app",
        recipient=recipient or "@duty",
        payload=card | {"level": level, "resident_id": ctx.resident.id},
        dedupe_key=f"alert:{ctx.inbound_id}" if ctx.inbound_id else None,
    )


# --- pushes to residents ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Push:
    """What became of a message pushed to a resident: queued on a channel, or why not."""

    queued: bool
    channel: Literal["wechat_custom", "wechat_template"] | None = None
    reason: str = ""


def push_to_resident(
    session: Session,
    resident: Resident,
    *,
    text: str,
    template_id: str | None,
    template_data: dict[str, Any],
    community_id: int | None,
    now: datetime,
    dedupe_key: str,
    about: str,
    ticket: str | None = None,
    event_id: int | None = None,
) -> Push:
    """Queue a message to a resident: a customer-service message (`text`) while their 48 h window is open
    with room left, else a template message when `template_id` is set, else nothing (logged): a message
    WeChat would refuse helps nobody. `about` names the cause in the log ("ticket AB3D5F"); a message about a
    ticket carries its code and the event that caused it (`ticket`, `event_id`), so a send that fails later
    can be shown on the ticket and told to the worker who acted.

    A click, follow or scan alone opens only a 1 minute window, too short to count on for a queued message.
    """
    if not resident.active:
        return Push(False, reason="the resident unfollowed the account")
    payload: dict[str, Any]
    channel: Literal["wechat_custom", "wechat_template"]
    if push_fits_window(session, resident, now):
        channel, payload = "wechat_custom", {"msgtype": "text", "text": {"content": text}}
    elif template_id:
        channel, payload = "wechat_template", {"template_id": template_id, "data": template_data}
    else:
        reason = "outside the 48 h window and no template message is configured"
        log.info("%s: resident %s not told: %s", about, resident.id, reason)
        return Push(False, reason=reason)
    row = repo.enqueue_outbox(
        session,
        channel=channel,
        recipient=resident.openid,
        payload=payload | {"resident_id": resident.id} | ({"ticket": ticket, "event_id": event_id} if ticket else {}),
        community_id=community_id,
        now=now,
        dedupe_key=dedupe_key,
    )
    if row is None:
        return Push(False, channel, "already queued")
    return Push(True, channel)
