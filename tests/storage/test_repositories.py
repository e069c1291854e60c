"""Repository functions on both backends: idempotent recording, claims, dialogue expiry, outbox, purging."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from bot.pipeline import handle_message, record_message
from bot.services import Services
from handlers.flows import CHOOSE_COMMUNITY
from handlers.messages import Inbound
from storage import repositories as repo
from storage.models import Community, DialogueState, InboundMessage, OutboxMessage, Resident

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
_message_ids = count(8_000_000_000_000_000_001)
TTL = timedelta(minutes=30)


@pytest.fixture
def session(services: Services) -> Iterator[Session]:
    """One transaction per test, committed at the end like a request's."""
    with services.sessions.begin() as open_session:
        yield open_session


def inbound_fields(resident_id: int, **overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "msg_id": 1,
        "community_id": None,
        "resident_id": resident_id,
        "msg_type": "text",
        "event": None,
        "content": "你好",
        "payload": {},
        "created_time": NOW,
        "received_at": NOW,
    }
    fields.update(overrides)
    return fields


# --- residents and communities -----------------------------------------------------------------------


def test_a_resident_is_created_once(session: Session) -> None:
    first = repo.get_or_create_resident(session, openid="openid-1")
    again = repo.get_or_create_resident(session, openid="openid-1")
    assert first.id == again.id and first.active
    assert repo.resident_by_openid(session, openid="openid-1") is first
    assert repo.resident_by_openid(session, openid="nobody") is None


def test_communities_are_upserted_by_code_and_found_by_scene(session: Session) -> None:
    created = repo.upsert_community(session, code="heping", name="和平社区", qr_scene="101", config={"a": 1})
    updated = repo.upsert_community(session, code="heping", name="和平新社区", qr_scene="103", config={"b": 2})
    assert created.id == updated.id
    assert updated.name == "和平新社区" and updated.config == {"b": 2}
    assert repo.community_by_scene(session, scene="103") is updated
    assert repo.community_by_scene(session, scene="101") is None
    assert repo.community_by_code(session, code="heping") is updated
    repo.upsert_community(session, code="xingfu", name="幸福里社区", qr_scene=None, config={})
    assert [c.code for c in repo.list_communities(session)] == ["heping", "xingfu"]


# --- inbound messages ------------------------------------------------------------------------------------


def test_recording_the_same_message_twice_keeps_one_row(session: Session) -> None:
    resident = repo.get_or_create_resident(session, openid="openid-1")
    key = f"m:{2**63 - 1}"
    row, created = repo.record_inbound(session, dedupe_key=key, **inbound_fields(resident.id, msg_id=2**63 - 1))
    again, created_again = repo.record_inbound(session, dedupe_key=key, **inbound_fields(resident.id, content="x"))
    assert created and not created_again
    assert again.id == row.id and again.status == "received"
    assert session.get(InboundMessage, row.id).content == "你好"  # type: ignore[union-attr]
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1
    session.expire_all()
    assert session.get(InboundMessage, row.id).msg_id == 2**63 - 1  # type: ignore[union-attr]


def test_a_message_is_claimed_for_handling_once(session: Session) -> None:
    resident = repo.get_or_create_resident(session, openid="openid-1")
    row, _ = repo.record_inbound(session, dedupe_key="m:1", **inbound_fields(resident.id))
    assert repo.claim_inbound(session, inbound_id=row.id) is True
    assert repo.claim_inbound(session, inbound_id=row.id) is False
    repo.finish_inbound(session, inbound_id=row.id, status="replied", now=NOW, intent="greeting", confidence=0.9)
    session.expire_all()
    done = session.get(InboundMessage, row.id)
    assert done is not None and (done.status, done.intent, done.handled_at) == ("replied", "greeting", NOW)


def test_the_latest_passive_reply_is_the_one_replayed(session: Session) -> None:
    resident = repo.get_or_create_resident(session, openid="openid-1")
    row, _ = repo.record_inbound(session, dedupe_key="m:1", **inbound_fields(resident.id))
    assert repo.reply_for_inbound(session, inbound_id=row.id) is None
    for channel, text in (("passive", "first"), ("custom", "pushed"), ("passive", "second")):
        repo.record_outbound(
            session,
            channel=channel,
            kind="text",
            content=text,
            payload={},
            community_id=None,
            resident_id=resident.id,
            inbound_id=row.id,
            now=NOW,
        )
    reply = repo.reply_for_inbound(session, inbound_id=row.id)
    assert reply is not None and reply.content == "second"
    assert repo.count_custom_messages_since(session, resident_id=resident.id, since=NOW - timedelta(days=3650)) == 1


def test_old_conversation_text_is_purged_but_the_record_kept(session: Session) -> None:
    resident = repo.get_or_create_resident(session, openid="openid-1")
    old, _ = repo.record_inbound(
        session,
        dedupe_key="m:1",
        **inbound_fields(resident.id, received_at=NOW - timedelta(days=200), payload={"a": 1}),
    )
    new, _ = repo.record_inbound(session, dedupe_key="m:2", **inbound_fields(resident.id, msg_id=2))
    purged = repo.purge_message_text(session, before=NOW - timedelta(days=180))
    assert purged == 1
    session.expire_all()
    kept_old, kept_new = session.get(InboundMessage, old.id), session.get(InboundMessage, new.id)
    assert kept_old is not None and kept_old.content is None and kept_old.payload == {}
    assert kept_old.msg_type == "text" and kept_old.resident_id == resident.id
    assert kept_new is not None and kept_new.content == "你好"


# --- dialogue state ------------------------------------------------------------------------------------------


def test_dialogue_state_expires(session: Session) -> None:
    resident = repo.get_or_create_resident(session, openid="openid-1")
    repo.set_dialogue(session, resident_id=resident.id, flow="f", step="s", data={"k": "v"}, now=NOW, ttl=TTL)

    state = repo.get_dialogue(session, resident_id=resident.id, now=NOW + TTL - timedelta(seconds=1))
    assert state is not None and (state.flow, state.step, state.data) == ("f", "s", {"k": "v"})
    assert repo.get_dialogue(session, resident_id=resident.id, now=NOW + TTL) is None
    # Gone for good, not just hidden.
    assert session.get(DialogueState, resident.id) is None
    assert repo.get_dialogue(session, resident_id=resident.id, now=NOW) is None


def test_dialogue_state_is_per_resident_and_replaced_by_the_next_step(session: Session) -> None:
    one = repo.get_or_create_resident(session, openid="openid-1")
    two = repo.get_or_create_resident(session, openid="openid-2")
    repo.set_dialogue(session, resident_id=one.id, flow="f", step="a", data={}, now=NOW, ttl=TTL)
    repo.set_dialogue(session, resident_id=two.id, flow="g", step="b", data={}, now=NOW, ttl=TTL)
    later = NOW + timedelta(minutes=20)
    repo.set_dialogue(session, resident_id=one.id, flow="f", step="c", data={"n": 2}, now=later, ttl=TTL)
    # The step moved the expiry along.
    state = repo.get_dialogue(session, resident_id=one.id, now=NOW + TTL + timedelta(minutes=1))
    assert state is not None and state.step == "c" and state.data == {"n": 2}
    assert repo.get_dialogue(session, resident_id=two.id, now=NOW + TTL + timedelta(minutes=1)) is None
    repo.clear_dialogue(session, resident_id=one.id)
    assert repo.get_dialogue(session, resident_id=one.id, now=later) is None


def test_datetimes_come_back_as_utc_and_naive_ones_are_refused(session: Session) -> None:
    resident = repo.get_or_create_resident(session, openid="openid-1")
    shanghai = datetime(2026, 11, 23, 17, 30, tzinfo=ZoneInfo("Asia/Shanghai"))  # 09:30 UTC
    repo.set_dialogue(session, resident_id=resident.id, flow="f", step="s", data={}, now=shanghai, ttl=TTL)
    session.expire_all()
    state = session.get(DialogueState, resident.id)
    assert state is not None
    assert state.expires_at == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert state.expires_at.utcoffset() == timedelta(0)
    with pytest.raises(StatementError, match="naive"):
        repo.set_dialogue(
            session, resident_id=resident.id, flow="f", step="s", data={}, now=datetime(2026, 1, 1), ttl=TTL
        )


# --- outbox ----------------------------------------------------------------------------------------------------


def enqueue(session: Session, recipient: str, *, at: datetime = NOW, key: str | None = None) -> OutboxMessage | None:
    return repo.enqueue_outbox(
        session, channel="wecom_app", recipient=recipient, payload={}, community_id=None, now=at, dedupe_key=key
    )


def test_a_dedupe_key_queues_a_message_once(session: Session) -> None:
    assert enqueue(session, "w", key="alert:1") is not None
    assert enqueue(session, "w", key="alert:1") is None
    assert enqueue(session, "w") is not None and enqueue(session, "w") is not None  # no key, no dedupe
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 3


def test_claiming_leases_due_rows_oldest_first(session: Session) -> None:
    late = enqueue(session, "late", at=NOW + timedelta(minutes=5))
    second = enqueue(session, "second", at=NOW - timedelta(minutes=1))
    first = enqueue(session, "first", at=NOW - timedelta(minutes=2))
    assert late and second and first
    claimed = repo.claim_due_outbox(session, now=NOW, lease=timedelta(minutes=2), limit=10)
    assert [r.recipient for r in claimed] == ["first", "second"]
    assert all(
        r.status == "sending" and r.attempts == 1 and r.locked_until == NOW + timedelta(minutes=2) for r in claimed
    )
    # Leased rows are not handed out again until the lease runs out.
    assert repo.claim_due_outbox(session, now=NOW + timedelta(minutes=1), lease=timedelta(minutes=2), limit=10) == []
    again = repo.claim_due_outbox(session, now=NOW + timedelta(minutes=6), lease=timedelta(minutes=2), limit=1)
    assert [r.recipient for r in again] == ["first"]


def test_outbox_rows_move_through_their_states(session: Session) -> None:
    row = enqueue(session, "w")
    assert row is not None
    repo.claim_due_outbox(session, now=NOW, lease=timedelta(minutes=2), limit=10)
    repo.mark_outbox_retry(session, outbox_id=row.id, error="x" * 5000, retry_at=NOW + timedelta(seconds=5))
    session.expire_all()
    assert (row.status, row.locked_until, row.next_attempt_at) == ("pending", None, NOW + timedelta(seconds=5))
    assert len(row.last_error or "") == 2000
    repo.mark_outbox_sent(session, outbox_id=row.id, now=NOW)
    session.expire_all()
    assert (row.status, row.sent_at, row.last_error) == ("sent", NOW, None)
    repo.mark_outbox_dead(session, outbox_id=row.id, error="45015: out of window")
    session.expire_all()
    assert row.status == "dead" and row.last_error == "45015: out of window"


def test_the_token_row_is_created_on_first_lock(session: Session) -> None:
    assert repo.peek_token(session, name="wechat") is None
    row = repo.lock_token(session, name="wechat")
    assert row.name == "wechat" and row.value is None
    assert repo.lock_token(session, name="wechat") is row


# --- dialogue through the pipeline: choosing a community ------------------------------------------------------


def add_communities(services: Services) -> None:
    with services.sessions.begin() as session:
        repo.upsert_community(session, code="heping", name="和平社区", qr_scene="101", config={})
        repo.upsert_community(session, code="xingfu", name="幸福里社区", qr_scene="102", config={})


class Conversation:
    """Messages from one resident through the real pipeline, at times the test chooses."""

    def __init__(self, services: Services, openid: str) -> None:
        self.services = services
        self.openid = openid

    def say(self, text: str, *, at: datetime) -> str:
        msg = Inbound(
            sender=self.openid,
            kind="text",
            text=text,
            created_at=at,
            msg_id=next(_message_ids),
            raw_type="text",
        )
        recorded = record_message(self.services, msg, now=at)
        handled = handle_message(self.services, msg, recorded.inbound_id, now=at)
        assert handled is not None and handled.reply is not None
        return str(getattr(handled.reply, "text", ""))

    def community(self) -> str | None:
        with self.services.sessions.begin() as session:
            resident = session.scalars(select(Resident).where(Resident.openid == self.openid)).one()
            community = session.get(Community, resident.community_id) if resident.community_id else None
            return community.code if community else None


def choosing(services: Services) -> int:
    """How many residents are in the middle of choosing their community."""
    with services.sessions.begin() as session:
        return int(session.scalar(select(func.count()).where(DialogueState.flow == CHOOSE_COMMUNITY.name)) or 0)


def test_each_resident_picks_their_community_by_number(services: Services) -> None:
    add_communities(services)
    wang, li = Conversation(services, "openid-wang"), Conversation(services, "openid-li")
    # A question is answered without asking; points need the community, so they ask.
    assert "1. 和平社区" in wang.say("积分", at=NOW)
    assert "2. 幸福里社区" in li.say("积分", at=NOW)
    li_answer = li.say("1", at=NOW + timedelta(minutes=1))
    wang_answer = wang.say("2号", at=NOW + timedelta(minutes=2))
    assert "和平社区的居民" in li_answer and "积分" in li_answer  # then what li first asked
    assert "幸福里社区的居民" in wang_answer
    assert (wang.community(), li.community()) == ("xingfu", "heping")


def test_a_reply_that_names_no_community_is_taken_as_a_message_of_its_own(services: Services) -> None:
    add_communities(services)
    resident = Conversation(services, "openid-z")
    resident.say("你好", at=NOW)
    answer = resident.say("9", at=NOW + timedelta(minutes=1))
    assert "社区的居民" not in answer
    assert resident.community() is None
    # Asked once only: the next message is answered, not met with the menu again.
    assert "请问您住在哪个社区" not in resident.say("你好", at=NOW + timedelta(minutes=2))


def test_an_unanswered_community_question_expires(services: Services) -> None:
    add_communities(services)
    resident = Conversation(services, "openid-y")
    assert "请问您住在哪个社区" in resident.say("积分", at=NOW)
    ttl = timedelta(minutes=services.settings.dialogue_ttl_minutes)
    assert choosing(services) == 1
    # Long after the question, "2" is no longer an answer to it.
    answer = resident.say("2", at=NOW + ttl + timedelta(minutes=1))
    assert "幸福里社区的居民" not in answer
    assert resident.community() is None
    assert choosing(services) == 0
