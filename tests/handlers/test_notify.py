"""The one way a message is pushed to a resident, and the one WeCom card builder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.services import Services
from handlers.notify import Push, push_to_resident, wecom_card
from storage import repositories as repo
from storage.models import OutboxMessage

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
DATA = {"first": {"value": "您反映的问题有新进展"}}


def _push(services: Services, openid: str, *, template_id: str | None, key: str, **resident: object) -> Push:
    with services.sessions.begin() as session:
        row = repo.get_or_create_resident(session, openid=openid)
        for name, value in resident.items():
            setattr(row, name, value)
        session.flush()
        return push_to_resident(
            session,
            row,
            text="工单 AB3D5F 有新进展",
            template_id=template_id,
            template_data=DATA,
            community_id=None,
            now=NOW,
            dedupe_key=key,
            about="ticket AB3D5F",
        )


def _queued(services: Services) -> list[tuple[str, str, dict[str, object]]]:
    with services.sessions.begin() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(r.channel, r.recipient, dict(r.payload)) for r in rows]


def test_inside_the_window_a_customer_service_message(services: Services) -> None:
    push = _push(services, "o-recent", template_id="TPL", key="k1", last_inbound_at=NOW - timedelta(hours=1))
    assert push == Push(True, "wechat_custom")
    ((channel, recipient, payload),) = _queued(services)
    assert (channel, recipient) == ("wechat_custom", "o-recent")
    assert payload["text"] == {"content": "工单 AB3D5F 有新进展"} and payload["msgtype"] == "text"


def test_outside_the_window_a_template_message_or_nothing(services: Services) -> None:
    old = NOW - timedelta(hours=48)
    assert _push(services, "o-old", template_id="TPL", key="k2", last_inbound_at=old) == Push(True, "wechat_template")
    skipped = _push(services, "o-old", template_id=None, key="k3", last_inbound_at=old)
    assert not skipped.queued and "no template" in skipped.reason
    ((channel, _, payload),) = _queued(services)
    assert channel == "wechat_template" and payload["template_id"] == "TPL" and payload["data"] == DATA


def test_a_repeat_or_an_unfollowed_resident_queues_nothing(services: Services) -> None:
    recent = NOW - timedelta(minutes=5)
    assert _push(services, "o-a", template_id="TPL", key="same", last_inbound_at=recent).queued
    again = _push(services, "o-a", template_id="TPL", key="same", last_inbound_at=recent)
    assert again == Push(False, "wechat_custom", "already queued")
    gone = _push(services, "o-b", template_id="TPL", key="other", active=False)
    assert not gone.queued and "unfollowed" in gone.reason
    assert len(_queued(services)) == 1


def test_a_card_is_the_textcard_wecom_expects() -> None:
    card = wecom_card("【红色】火情", [("highlight", "红色警报：火情"), ("gray", "和平社区"), ("normal", "请立即联系")])
    assert card == {
        "msgtype": "textcard",
        "textcard": {
            "title": "【红色】火情",
            "description": '<div class="highlight">红色警报：火情</div><div class="gray">和平社区</div>'
            '<div class="normal">请立即联系</div>',
            "url": "",
            "btntxt": "详情",
        },
    }


def test_a_residents_words_cannot_open_a_tag_in_a_card() -> None:
    card = wecom_card("【新工单】", [("normal", '居民原话：<a href="x">点我</a> 水管 & 电')])
    description = card["textcard"]["description"]
    assert "<a" not in description
    assert '&lt;a href="x"&gt;点我&lt;/a&gt; 水管 &amp; 电' in description
