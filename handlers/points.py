"""Points by message: the balance and recent entries, redeeming a reward, and this month's hours and points."""

from __future__ import annotations

import re
import secrets

from bot.messages import Inbound, TextReply
from bot.points_rules import CHINA_TZ, RewardSpec, format_hours, month_bounds, month_of
from handlers.base import UNHANDLED, Context, Outcome
from intents import Classification
from storage import volunteers as vrepo

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


def sync_catalogue(ctx: Context) -> None:
    """Keep the rewards table in step with the community file before showing or redeeming."""
    if ctx.community is None:
        return
    items = [RewardSpec.model_validate(item).model_dump() for item in ctx.community.config.get("rewards") or []]
    vrepo.sync_rewards(ctx.session, community_id=ctx.community.id, items=items)


def balance_reply(ctx: Context) -> TextReply:
    resident_id = ctx.resident.id
    points = vrepo.balance(ctx.session, resident_id=resident_id, unit="points")
    minutes = vrepo.balance(ctx.session, resident_id=resident_id, unit="minutes")
    lines = [f"您现在有 {points} 积分。"]
    if minutes:
        lines.append(f"时间银行里存着 {format_hours(minutes)}的互助时间。")
    entries = vrepo.recent_entries(ctx.session, resident_id=resident_id, limit=5)
    if entries:
        lines.append("最近记录：")
        for entry in entries:
            unit = "积分" if entry.unit == "points" else "分钟"
            when = entry.created_at.astimezone(CHINA_TZ).strftime("%m-%d")
            label = KIND_LABELS.get(entry.kind, entry.kind)
            lines.append(f"· {when} {label} {entry.amount:+d}{unit}（{entry.reason}）")
    sync_catalogue(ctx)
    rewards = vrepo.rewards_for(ctx.session, community_id=ctx.community.id) if ctx.community else []
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
    sync_catalogue(ctx)
    reward = vrepo.find_reward(ctx.session, community_id=ctx.community.id, name=item)
    if reward is None:
        names = "、".join(r.name for r in vrepo.rewards_for(ctx.session, community_id=ctx.community.id))
        return TextReply(f"没找到“{item}”。" + (f"可以兑换的有：{names}。" if names else "本社区还没有可兑换的奖励。"))
    try:
        voucher = vrepo.redeem_reward(
            ctx.session,
            resident_id=ctx.resident.id,
            community_id=ctx.community.id,
            reward_id=reward.id,
            now=ctx.now,
            new_code=new_voucher_code,
        )
    except vrepo.InsufficientBalance:
        points = vrepo.balance(ctx.session, resident_id=ctx.resident.id, unit="points")
        return TextReply(f"{reward.name}要 {reward.points_price} 积分，您现在有 {points} 积分，还差一点。多参加活动就能攒够！")
    except vrepo.OutOfStock:
        return TextReply(f"抱歉，{reward.name}刚刚兑完了。发“积分”看看其他奖励。")
    left = vrepo.balance(ctx.session, resident_id=ctx.resident.id, unit="points")
    until = voucher.expires_at.astimezone(CHINA_TZ).strftime("%Y年%m月%d日") if voucher.expires_at else "长期"
    return TextReply(
        f"兑换成功！{reward.name}的兑换码：{voucher.code}\n"
        f"请在 {until} 前到居委会出示这个码领取（只能用一次）。\n剩余 {left} 积分。"
    )


def month_summary(ctx: Context) -> TextReply:
    month = month_of(ctx.now)
    start, end = month_bounds(month)
    minutes, stays = vrepo.minutes_between(ctx.session, resident_id=ctx.resident.id, start=start, end=end)
    points = vrepo.points_between(ctx.session, resident_id=ctx.resident.id, start=start, end=end)
    credits = vrepo.points_between(ctx.session, resident_id=ctx.resident.id, start=start, end=end, unit="minutes")
    label = f"{int(month[5:])}月"
    if not stays and not points:
        return TextReply(f"{label}还没有记录到服务时长。发“最近有什么活动”找找可以参加的吧！")
    text = f"{label}您参加了 {stays} 次活动，服务时长 {format_hours(minutes)}，获得 {points} 积分。"
    if credits:
        text += f"\n时间银行存入 {format_hours(credits)}。"
    return TextReply(text + "\n谢谢您为社区出力！")


class PointsHandler:
    """"积分", "兑换 X", and month summaries the classifier filed under points."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        item = cls.slots.get("redeem")
        if item:
            return redeem_reply(ctx, item.strip())
        if is_summary_request(msg.text):
            return month_summary(ctx)
        return balance_reply(ctx)


class SummaryHandler:
    """"我这个月的时长" and the like, whatever the classifier made of it."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        if msg.kind not in ("text", "voice") or not is_summary_request(msg.text):
            return UNHANDLED
        return month_summary(ctx)
