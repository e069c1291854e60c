"""Every conversation story (stories/*.yaml, format in README.md) played through the real signed webhook and
WeCom callback, on its own copy of a database holding the demo communities, with a clock that `wait` moves.

A story listed in known_failures.yaml waits for the issue point named there: it is expected to fail, and
strictly so, so a story that starts passing fails the run until it is taken off the list.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.app import create_app
from bot.services import Services
from handlers.clock import FixedClock
from intents.rules import parse_address
from storage import repositories as repo
from storage.consultations import Consultation
from storage.models import OutboxMessage
from storage.tickets import Ticket, TicketFollower
from tests.conftest import AES_KEY, APP_ID, TOKEN, make_settings
from tests.conversations.loader import Expect, Location, Step, Story, load_known_failures, load_stories
from tests.support.fake_api import FakeApi
from tests.support.people import CORP_ID, WECOM_AES_KEY, WECOM_TOKEN, Resident, Worker
from tests.support.wechat import FakeWeChat

# A Tuesday, 10:00 in Beijing: a working day, inside office hours.
START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
OPENID = "openid-story-resident"
SCENES = {"heping": "101", "xingfu": "102"}

STORIES = load_stories()
KNOWN = load_known_failures({s.name for s in STORIES})


def _case(story: Story) -> object:
    marks = []
    if story.name in KNOWN:
        marks.append(pytest.mark.xfail(strict=True, reason=f"issue point {KNOWN[story.name]} not built yet"))
    # The id is the story's name, unescaped (see pytest_make_parametrize_id in conftest.py).
    return pytest.param(story, marks=marks)


@dataclass
class Conversation:
    """One story's world: the bot, its database and clock, the resident, the workers who write in."""

    services: Services
    client: TestClient
    clock: FixedClock
    wechat: FakeWeChat
    resident: Resident
    worker_ids: list[int] = field(default_factory=lambda: [next(_worker_ids)])
    transcript: list[str] = field(default_factory=list)

    def play(self, step: Step) -> str | None:
        """Perform the step; the text answered (to the resident, or to the worker), None for a wait."""
        if step.say is not None:
            return self.resident.say(step.say)
        if step.voice is not None:
            return self.resident.speak(step.voice)
        if step.photo:
            return self.resident.photo()
        if step.location is not None:
            return self.resident.post(self._location(step.location))
        if step.worker is not None:
            text = step.worker.say.replace("{ticket}", self.newest_ticket_code())
            # One message-id counter for every worker of the story: WeCom ids never repeat.
            return Worker(self.client, step.worker.userid, ids=self.worker_ids).say(text)
        assert step.wait is not None
        self.clock.advance(timedelta(minutes=step.wait.minutes))
        return None

    def _location(self, where: Location) -> str:
        return self.wechat.xml(
            OPENID,
            "location",
            f"<Location_X>{where.lat}</Location_X><Location_Y>{where.lng}</Location_Y><Scale>15</Scale>"
            f"<Label><![CDATA[{where.label}]]></Label><MsgId>{next(_message_ids)}</MsgId>",
        )

    def newest_ticket_code(self) -> str:
        with self.services.sessions.begin() as session:
            code = session.scalar(select(Ticket.code).order_by(Ticket.id.desc()).limit(1))
        assert code is not None, "a worker step names {ticket} before any ticket exists"
        return code


_worker_ids = count(9_000_000_000_000)
_message_ids = count(8_000_000_000_000_000_001)


@pytest.fixture
def conversation(
    story: Story, story_template: Path, story_data_dir: Path, tmp_path: Path, api: FakeApi
) -> Iterator[Conversation]:
    database = tmp_path / "story.db"
    shutil.copyfile(story_template, database)
    settings = make_settings(
        f"sqlite:///{database}",
        tmp_path,
        data_dir=story_data_dir,
        wechat_api_base=api.base,
        wecom_api_base=api.base,
        wecom_corp_id=CORP_ID,
        wecom_token=WECOM_TOKEN,
        wecom_aes_key=WECOM_AES_KEY,
        # A story checks what is said, not how fast: on a busy machine the reply must not leave later as a
        # customer-service message and be missed.
        reply_budget_seconds=60.0,
    )
    clock = FixedClock(START)
    services = Services(settings, clock=clock)
    wechat = FakeWeChat(TOKEN, APP_ID, AES_KEY)
    try:
        with TestClient(create_app(settings, services)) as client:
            resident = Resident(client, wechat, OPENID)
            community = story.resident.community
            if community == "none":
                resident.post(wechat.event(OPENID, "subscribe"))
            elif community == "unasked":
                pass  # followed before the bot kept residents: the first message is the first we see of them
            else:
                resident.join(SCENES[community])
            if story.resident.address:
                _tell_address(services, story.resident.address)
            yield Conversation(services, client, clock, wechat, resident)
    finally:
        services.close()


def _tell_address(services: Services, address: str) -> None:
    parsed = parse_address(address)
    assert parsed and "building" in parsed, f"not an address the bot reads: {address!r}"
    with services.sessions.begin() as session:
        resident = repo.resident_by_openid(session, openid=OPENID)
        assert resident is not None
        resident.building, resident.unit, resident.room = parsed["building"], parsed.get("unit"), parsed.get("room")


@pytest.mark.parametrize("story", [_case(s) for s in STORIES])
def test_story(story: Story, conversation: Conversation) -> None:
    failures: list[str] = []
    for number, step in enumerate(story.steps, start=1):
        reply = conversation.play(step)
        said = step.say if step.say is not None else step.voice if step.voice is not None else step.action
        if step.worker is not None:
            said = f"{step.worker.userid}: {step.worker.say}"
        conversation.transcript.append(f"{number}. {said!r}\n   -> {reply!r}")
        if step.reply is not None and reply is not None:
            failures += [f"step {number}: the reply {problem}" for problem in step.reply.failures(reply)]
    with conversation.services.sessions.begin() as session:
        failures += _expectation_failures(session, story.expect)
    assert not failures, "\n".join([*failures, "", *conversation.transcript])


def crisis_alerts(session: Session) -> list[str]:
    """The level of every crisis alert queued for a worker: WeCom cards that carry a level and no ticket
    (a ticket's card carries its colour as its level, and its code)."""
    levels = []
    for row in session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "wecom_app")):
        payload = row.payload or {}
        if payload.get("level") and "ticket" not in payload:
            levels.append(str(payload["level"]))
    return levels


def residents_tickets(session: Session) -> list[Ticket]:
    """The tickets this resident reported or joined, oldest first."""
    resident = repo.resident_by_openid(session, openid=OPENID)
    assert resident is not None
    followed = select(TicketFollower.ticket_id).where(TicketFollower.resident_id == resident.id)
    query = select(Ticket).where(or_(Ticket.reporter_id == resident.id, Ticket.id.in_(followed)))
    return list(session.scalars(query.order_by(Ticket.id)))


def _expectation_failures(session: Session, expect: Expect) -> list[str]:
    failures: list[str] = []
    levels = crisis_alerts(session)
    for level, wanted in expect.alerts.items():
        if (got := levels.count(level)) != wanted:
            failures.append(f"{wanted} {level} alert(s) expected, {got} sent")
    if expect.no_red_alert and "red" in levels:
        failures.append(f"no red alert expected, {levels.count('red')} sent")
    tickets = residents_tickets(session)
    if expect.tickets is not None and len(tickets) != expect.tickets:
        summary = [(t.category, t.place, t.colour) for t in tickets]
        failures.append(f"{expect.tickets} ticket(s) expected, {len(tickets)} left: {summary}")
    if expect.ticket is not None:
        if not tickets:
            failures.append("a ticket expected, none left")
        else:
            newest, check = tickets[-1], expect.ticket
            if check.colour is not None and newest.colour != check.colour:
                failures.append(f"the newest ticket is {newest.colour}, {check.colour} expected")
            if check.category is not None and newest.category != check.category:
                failures.append(f"the newest ticket is about {newest.category}, {check.category} expected")
            if check.place_contains is not None and check.place_contains not in newest.place:
                failures.append(f"the newest ticket's place {newest.place!r} lacks {check.place_contains!r}")
    if expect.consultations is not None:
        made = len(list(session.scalars(select(Consultation.id))))
        if made != expect.consultations:
            failures.append(f"{expect.consultations} consultation(s) expected, {made} made")
    return failures
