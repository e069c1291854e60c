"""Alerts to community workers, queued through the outbox as WeCom app messages."""

from __future__ import annotations

from handlers.base import Context
from handlers.communities import spec_of
from storage import repositories as repo
from storage.models import Community


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


def resident_place(ctx: Context) -> str:
    r = ctx.resident
    parts = []
    if r.building:
        parts.append(f"{r.building}号楼")
    if r.unit:
        parts.append(f"{r.unit}单元")
    if r.room:
        parts.append(f"{r.room}室")
    return "".join(parts) or "住址未登记"


def alert_duty_worker(ctx: Context, *, label: str, text: str, level: str) -> None:
    """A red alert to the worker on duty; one per inbound message even if WeChat retries."""
    recipient = duty_worker(ctx)
    community = ctx.community.name if ctx.community else "未分配社区"
    colour = {"red": "红色", "yellow": "黄色", "blue": "蓝色"}.get(level, level)
    description = (
        f'<div class="highlight">{colour}警报：{label}</div>'
        f'<div class="gray">{community} · {resident_place(ctx)}</div>'
        f'<div class="normal">居民原话：{text[:200]}</div>'
        '<div class="normal">请立即电话或上门联系，处理后在系统中登记。</div>'
    )
    ctx.send_later(
        channel="wecom_app",
        recipient=recipient or "@duty",
        payload={
            "msgtype": "textcard",
            "textcard": {"title": f"【{colour}】{label}", "description": description, "url": "", "btntxt": "详情"},
            "level": level,
            "resident_id": ctx.resident.id,
        },
        dedupe_key=f"alert:{ctx.inbound_id}" if ctx.inbound_id else None,
    )
