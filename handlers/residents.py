"""Residents: subscribing and leaving, choosing their community, and telling us where they live."""

from __future__ import annotations

from handlers.base import UNHANDLED, Context, Outcome
from handlers.flows import CHOOSE_COMMUNITY, CommunityChoice
from handlers.greeting import CAPABILITIES, WELCOME
from handlers.messages import EmptyReply, Inbound, TextReply
from handlers.volunteering.checkin import check_in_by_scan
from handlers.volunteering.qr import CHECKIN_SCENE_PREFIX, activity_for_scene
from intents import Classification
from intents.numbers import to_int
from intents.rules import parse_address
from storage import repositories as repo
from storage.models import Community, DialogueState


def _community_menu(communities: list[Community]) -> str:
    lines = [f"{i}. {c.name}" for i, c in enumerate(communities, start=1)]
    return "请问您住在哪个社区？回复序号就行：\n" + "\n".join(lines)


def assign_community(ctx: Context, community: Community) -> None:
    ctx.resident.community_id = community.id
    ctx.community = community


def ask_community_if_needed(ctx: Context, *, pending_text: str = "") -> TextReply | None:
    """Ask once which community the resident belongs to; None when it is known or obvious."""
    communities = _to_ask_among(ctx)
    if not communities or ctx.resident.community_asked_at is not None:
        return None
    return ask_community(ctx, communities, pending_text=pending_text)


def community_needed(ctx: Context, *, pending_text: str, why: str) -> TextReply | None:
    """Ask which community the resident lives in now, because the next step needs it (a ticket,
    volunteering, points); None when it is known, or obvious. A question is answered without it: the
    community is asked only here, when `pending_text` cannot go on without it, and handled once they answer."""
    communities = _to_ask_among(ctx)
    if not communities:
        return None
    return TextReply(why + ask_community(ctx, communities, pending_text=pending_text).text)


def adopt_only_community(ctx: Context) -> None:
    """A resident of a deployment with one community belongs to it, without being asked."""
    _to_ask_among(ctx)


def _to_ask_among(ctx: Context) -> list[Community]:
    """The communities to ask the resident to choose from; empty when theirs is known, or is the only one
    (then it is theirs from now on)."""
    if ctx.community is not None:
        return []
    communities = repo.list_communities(ctx.session)
    if len(communities) == 1:
        assign_community(ctx, communities[0])
        return []
    return communities


def ask_community(ctx: Context, communities: list[Community], *, pending_text: str = "") -> TextReply:
    """Ask which community the resident lives in; `pending_text` is handled again once they answer."""
    ctx.resident.community_asked_at = ctx.now
    ctx.start_flow(CHOOSE_COMMUNITY, "choose", CommunityChoice(pending_text=pending_text))
    return TextReply(_community_menu(communities))


class SubscriptionHandler:
    """subscribe, unsubscribe and scan events."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        resident = ctx.resident
        if msg.event == "unsubscribe":
            resident.active = False
            resident.unsubscribed_at = ctx.now
            ctx.end_dialogue()
            return EmptyReply()
        scene = (msg.event_key or "").removeprefix("qrscene_")
        if scene.startswith(CHECKIN_SCENE_PREFIX):
            return self._scanned_checkin(ctx, msg, scene)
        community = repo.community_by_scene(ctx.session, scene=scene) if scene else None
        if community is not None:
            assign_community(ctx, community)
        if msg.event in ("subscribe", "subscribe_scan"):
            self._subscribed(ctx)
            asked = ask_community_if_needed(ctx)
            return TextReply(self._welcome(ctx) + ("\n\n" + asked.text if asked else ""))
        if community is not None:
            return TextReply(f"已为您登记为{community.name}的居民。\n" + CAPABILITIES)
        return UNHANDLED

    def _scanned_checkin(self, ctx: Context, msg: Inbound, scene: str) -> Outcome:
        """An activity's QR code scanned at the venue: follow if needed, then check in."""
        activity = activity_for_scene(ctx.session, scene)
        if ctx.community is None and activity is not None and activity.community_id is not None:
            community = ctx.session.get(Community, activity.community_id)
            if community is not None:
                assign_community(ctx, community)
        checked_in = check_in_by_scan(ctx, activity)
        if msg.event in ("subscribe", "subscribe_scan"):
            self._subscribed(ctx)
            return TextReply(self._welcome(ctx) + "\n\n" + checked_in.text)
        return checked_in

    @staticmethod
    def _subscribed(ctx: Context) -> None:
        ctx.resident.active = True
        ctx.resident.subscribed_at = ctx.now
        ctx.resident.unsubscribed_at = None

    @staticmethod
    def _welcome(ctx: Context) -> str:
        return WELCOME if ctx.community is None else WELCOME.replace("社区的", f"{ctx.community.name}的", 1)


class CommunityChoiceFlow:
    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        return UNHANDLED

    def resume(self, ctx: Context, msg: Inbound, cls: Classification, state: DialogueState) -> Outcome:
        communities = repo.list_communities(ctx.session)
        text = msg.text.strip()
        chosen: Community | None = None
        number = to_int(text.rstrip("号. 。"))
        if number is not None and 1 <= number <= len(communities):
            chosen = communities[number - 1]
        else:
            chosen = next((c for c in communities if c.name in text or (text and text in c.name)), None)
        asked = CHOOSE_COMMUNITY.read(state.data)
        if chosen is None or asked is None:
            # Not an answer to our question: take it as what they want to say, and do not ask again.
            return UNHANDLED
        assign_community(ctx, chosen)
        ctx.end_dialogue()
        pending = asked.pending_text
        confirmation = f"好的，已记下您是{chosen.name}的居民。"
        if pending:
            ctx.extras["redispatch_text"] = pending
            return TextReply(confirmation)
        return TextReply(confirmation + "\n" + CAPABILITIES)


class AddressHandler:
    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        address = cls.slots or parse_address(msg.text) or {}
        if "building" not in address:
            return UNHANDLED
        resident = ctx.resident
        resident.building = address["building"]
        resident.unit = address.get("unit")
        resident.room = address.get("room")
        place = f"{resident.building}号楼" + (f"{resident.unit}单元" if resident.unit else "")
        place += f"{resident.room}室" if resident.room else ""
        return TextReply(f"好的，记下了：您住{place}。以后报修就不用再说地址了。")
