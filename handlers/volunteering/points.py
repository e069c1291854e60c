"""Points by message: the balance and recent entries, redeeming a reward, and this month's hours and points."""

from __future__ import annotations

import re
import secrets

from handlers.base import UNHANDLED, Context, Outcome
from handlers.clock import CHINA_TZ
from handlers.messages import Inbound, TextReply
from handlers.notify import alert_duty_worker
from handlers.residents import community_needed
from handlers.volunteering.rules import format_hours, month_bounds, month_of
from intents import Classification, Intent
from storage import activities as arepo
from storage import ledger as lrepo
from storage import rewards as rrepo

# Unambiguous characters only: a worker reads the code off a resident's phone.
_VOUCHER_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_SUMMARY = re.compile(r"(这个月|本月|这月|当月|月度).{0,6}(时长|小时|时间|积分|服务)|(志愿|服务)(时长|时间)|我的时长")

KIND_LABELS = {
    "award": "获得",
    "redemption": "兑换",
    "adjustment": "调整",
    "reversal": "更正",
    "expiry": "过期",
    "time_spend": "使用",
}


def new_voucher_code() -> str:
    return "".join(secrets.choice(_VOUCHER_ALPHABET) for _ in range(8))


def is_summary_request(text: str) -> bool:
    return bool(_SUMMARY.search(text))


def balance_reply(ctx: Context) -> TextReply:
    resident_id = ctx.resident.id
    balances = lrepo.balances(ctx.session, resident_id=resident_id)
    points, minutes = balances.get("points", 0), balances.get("minutes", 0)
    lines = [f"您现在有 {points} 积分。"]
    if minutes:
        lines.append(f"时间银行里存着 {format_hours(minutes)}的互助时间。")
    entries = lrepo.recent_entries(ctx.session, resident_id=resident_id, limit=5)
    if entries:
        lines.append("最近记录：")
        for entry in entries:
            unit = "积分" if entry.unit == "points" else "分钟"
            when = entry.created_at.astimezone(CHINA_TZ).strftime("%m-%d")
            label = KIND_LABELS.get(entry.kind, entry.kind)
            lines.append(f"· {when} {label} {entry.amount:+d}{unit}（{entry.reason}）")
    rewards = rrepo.rewards_for(ctx.session, community_id=ctx.community.id) if ctx.community else []
    if rewards:
        lines.append("可以兑换：")
        for reward in rewards:
            stock = f"剩 {reward.stock} 份" if reward.stock > 0 else "已兑完"
            lines.append(f"· {reward.name}：{reward.points_price} 积分（{stock}）")
        lines.append("想兑换就发“兑换 名称”，比如“兑换 " + rewards[0].name + "”。")
    return TextReply("\n".join(lines))


def redeem_reply(ctx: Context, item: str) -> TextReply:
    if ctx.community is None:
        return TextReply("请先告诉我您住在哪个社区，才能兑换本社区的奖励。")
    reward = rrepo.find_reward(ctx.session, community_id=ctx.community.id, name=item)
    if reward is None:
        names = "、".join(r.name for r in rrepo.rewards_for(ctx.session, community_id=ctx.community.id))
        return TextReply(f"没找到“{item}”。" + (f"可以兑换的有：{names}。" if names else "本社区还没有可兑换的奖励。"))
    try:
        voucher = rrepo.redeem_reward(
            ctx.session,
            resident_id=ctx.resident.id,
            community_id=ctx.community.id,
            reward_id=reward.id,
            now=ctx.now,
            new_code=new_voucher_code,
        )
    except lrepo.InsufficientBalance:
        points = lrepo.balance(ctx.session, resident_id=ctx.resident.id, unit="points")
        return TextReply(
            f"{reward.name}要 {reward.points_price} 积分，您现在有 {points} 积分，还差一点。多参加活动就能攒够！"
        )
    except rrepo.OutOfStock:
        return TextReply(f"抱歉，{reward.name}刚刚兑完了。发“积分”看看其他奖励。")
    left = lrepo.balance(ctx.session, resident_id=ctx.resident.id, unit="points")
    until = voucher.expires_at.astimezone(CHINA_TZ).strftime("%Y年%m月%d日") if voucher.expires_at else "长期"
    return TextReply(
        f"兑换成功！{reward.name}的兑换码：{voucher.code}\n"
        f"请在 {until} 前到居委会出示这个码领取（只能用一次）。\n剩余 {left} 积分。"
    )


def month_summary(ctx: Context) -> TextReply:
    month = month_of(ctx.now)
    start, end = month_bounds(month)
    minutes, stays = arepo.minutes_between(ctx.session, resident_id=ctx.resident.id, start=start, end=end)
    points = lrepo.points_between(ctx.session, resident_id=ctx.resident.id, start=start, end=end)
    credits = lrepo.points_between(ctx.session, resident_id=ctx.resident.id, start=start, end=end, unit="minutes")
    label = f"{int(month[5:])}月"
    if not stays and not points:
        return TextReply(f"{label}还没有记录到服务时长。发“最近有什么活动”找找可以参加的吧！")
    text = f"{label}您参加了 {stays} 次活动，服务时长 {format_hours(minutes)}，获得 {points} 积分。"
    if credits:
        text += f"\n时间银行存入 {format_hours(credits)}。"
    return TextReply(text + "\n谢谢您为社区出力！")


_DURATION = re.compile(
    r"(?P<n>[0-9]+(\.5)?|[一二两三四五六七八九十]|半)\s*(个)?\s*(?P<half>半)?\s*(?P<unit>小时|钟头|分钟)"
)
_CN = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
TIME_BANK_HELP = (
    "时间银行：帮助别人存下的时间，可以换别人来帮您。\n"
    "发“用时间银行 2小时 陪我去医院”这样的话，写上要多久、需要什么帮助，社区会安排志愿者。"
)


def requested_minutes(text: str) -> int | None:
    """ "2小时" -> 120, "半小时" -> 30, "一个半小时" -> 90, "45分钟" -> 45; None when no duration is given."""
    match = _DURATION.search(text)
    if match is None:
        return None
    raw = match.group("n")
    amount = 0.5 if raw == "半" else float(_CN.get(raw, 0) or raw)
    minutes = amount if match.group("unit") == "分钟" else amount * 60
    if match.group("half"):
        minutes += 30
    return int(minutes) if minutes > 0 else None


def time_bank_reply(ctx: Context, request: str) -> TextReply:
    """Spend time-bank credits on help: debited at once (a worker's reversal refunds it) and routed."""
    available = lrepo.balance(ctx.session, resident_id=ctx.resident.id, unit="minutes")
    minutes = requested_minutes(request)
    what = _DURATION.sub("", request).strip(" ，,。") if minutes else request
    if minutes is None or not what:
        return TextReply(f"{TIME_BANK_HELP}\n您现在存着 {format_hours(available)}。")
    try:
        entry = lrepo.post_entry(
            ctx.session,
            resident_id=ctx.resident.id,
            community_id=ctx.community_id,
            unit="minutes",
            amount=-minutes,
            kind="time_spend",
            reason=f"时间银行求助：{what}"[:200],
            now=ctx.now,
            source_key=f"time_spend:{ctx.inbound_id}" if ctx.inbound_id else None,
        )
    except lrepo.InsufficientBalance:
        return TextReply(
            f"这次需要 {format_hours(minutes)}，您的时间银行里有 {format_hours(available)}，还不够。多参加互助活动就能存下时间。"
        )
    alert_duty_worker(
        ctx,
        label=f"时间银行求助 {format_hours(minutes)}（记录 #{entry.id if entry else '-'}）",
        text=what,
        level="blue",
    )
    left = lrepo.balance(ctx.session, resident_id=ctx.resident.id, unit="minutes")
    return TextReply(
        f"好的，已用 {format_hours(minutes)}申请帮助：{what}。\n社区会安排志愿者联系您；没安排上会退回时间。\n"
        f"时间银行还剩 {format_hours(left)}。"
    )


class PointsHandler:
    """ "积分", "兑换 X" and "用时间银行 2小时 ..."."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        # Points are kept per community: the one place a points question needs it.
        asked = community_needed(ctx, pending_text=msg.text, why="积分是按社区记的，要先知道您住在哪个社区。")
        if asked is not None:
            return asked
        if "time_bank" in cls.slots:
            return time_bank_reply(ctx, cls.slots["time_bank"])
        item = cls.slots.get("redeem")
        if item:
            return redeem_reply(ctx, item.strip())
        return balance_reply(ctx)


class SummaryHandler:
    """ "我这个月的时长" and the like, whatever the classifier made of it: the one place that answers it.

    A redemption or a time-bank request that mentions this month's points is still that request."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        if msg.kind not in ("text", "voice") or not is_summary_request(msg.text):
            return UNHANDLED
        if cls.intent is Intent.POINTS and ("redeem" in cls.slots or "time_bank" in cls.slots):
            return UNHANDLED
        return month_summary(ctx)
