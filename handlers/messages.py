"""Typed messages: what a resident sent (parsed at the edge) and what a handler answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

InboundKind = Literal["text", "voice", "image", "location", "event", "unknown"]


@dataclass(frozen=True)
class Inbound:
    """One message or event from a resident, independent of the transport it came by."""

    sender: str
    kind: InboundKind
    created_at: datetime
    text: str = ""
    msg_id: int | None = None
    event: str | None = None  # subscribe | unsubscribe | click | scan | location | ...
    event_key: str | None = None
    media_id: str | None = None
    pic_url: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    label: str | None = None
    raw_type: str = ""

    @property
    def dedupe_key(self) -> str:
        # WeChat gives events no MsgId (wechatpy reports 0): sender + time + event identifies a delivery.
        if self.kind != "event" and self.msg_id:
            return f"m:{self.msg_id}"
        return f"e:{self.sender}:{int(self.created_at.timestamp())}:{self.event or self.raw_type}"


@dataclass(frozen=True)
class TextReply:
    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True)
class ImageReply:
    media_id: str
    kind: Literal["image"] = "image"


@dataclass(frozen=True)
class Article:
    title: str
    description: str
    url: str
    image: str = ""


@dataclass(frozen=True)
class NewsReply:
    articles: tuple[Article, ...] = field(default_factory=tuple)
    kind: Literal["news"] = "news"


@dataclass(frozen=True)
class EmptyReply:
    """Nothing to say in the HTTP response (WeChat expects 'success')."""

    kind: Literal["empty"] = "empty"


Reply = TextReply | ImageReply | NewsReply | EmptyReply


def reply_text(reply: Reply) -> str | None:
    if isinstance(reply, TextReply):
        return reply.text
    if isinstance(reply, NewsReply):
        return "\n".join(a.title for a in reply.articles)
    return None
