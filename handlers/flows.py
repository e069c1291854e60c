"""Every multi-turn conversation the bot holds, and the state it keeps between messages, in one place.

A flow is a name, its steps and a typed state. The state is kept in DialogueState.data as JSON and read
back through its model, so a handler never guesses what a key holds, and a state written by an older
version that no longer fits is dropped rather than half-read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class FlowState(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CommunityChoice(FlowState):
    """Which community do you live in? The message that made us ask is answered once they have chosen."""

    pending_text: str = ""


class Photo(FlowState):
    media_id: str | None = None
    pic_url: str | None = None


class TicketLocation(FlowState):
    """Where is it? The report waits, with any photos sent meanwhile."""

    text: str
    photos: list[Photo] = Field(default_factory=list)


class TicketRating(FlowState):
    """How did we do? The reporter's next bare number rates this ticket."""

    code: str


class FaqChoice(FlowState):
    """Which of these did you mean? (collection, entry id) by the number shown."""

    ids: list[tuple[str, str]]
    domain: str = "general"
    question: str = ""


class VolunteerSignup(FlowState):
    """The sign-up form, one answer at a time; the phone is kept only as ciphertext."""

    name: str | None = None
    phone_encrypted: str | None = None
    skills: dict[str, str] = Field(default_factory=dict)
    availability: str | None = None


class ActivityPick(FlowState):
    """The activities just listed, so "报名 2" means the second of them."""

    ids: list[int]


class CheckinLocation(FlowState):
    """A check-in at a venue that needs the resident's location first."""

    activity_id: int


class ParticipationPending(FlowState):
    """Taking part, waiting on the resident: their address before a support or a vote counts (one per
    household), or the words of a proposal they have just announced. A vote's choice is never kept here."""

    pending_text: str = ""
    vote_id: int | None = None


class ObjectionReason(FlowState):
    """An objection to a notice-board allocation that came without a reason: the next message is the reason."""

    allocation_id: int


class SetAside(FlowState):
    """A flow that was waiting when a crisis began: kept, never filled with crisis words."""

    flow: str
    step: str
    data: dict[str, Any] = Field(default_factory=dict)


class CrisisConversation(FlowState):
    """After a crisis or emergency reply: which danger, since when, what we last asked, what was set aside."""

    danger: str
    since: datetime
    level: Literal["red", "yellow"] = "red"
    asked: Literal["", "company", "thoughts"] = ""
    set_aside: SetAside | None = None


class SafecheckTime(FlowState):
    """报平安: what time of day to prompt; for a family member's request, whom it is for."""

    relative: str = ""


class SafecheckFamily(FlowState):
    """报平安 for a relative: their name and address come next."""

    relative: str
    minute: int


class SafecheckPause(FlowState):
    """报平安 paused: until which day?"""


class MediationOffer(FlowState):
    """Shall we register this neighbour problem for mediation? What they told us, and where."""

    text: str
    building: str | None = None
    unit: str | None = None
    label: str = ""


S = TypeVar("S", bound=FlowState)


@dataclass(frozen=True)
class Flow(Generic[S]):
    name: str
    steps: tuple[str, ...]
    state: type[S]

    def read(self, data: object) -> S | None:
        """The stored state, or None when it does not fit this flow's model."""
        try:
            return self.state.model_validate(data)
        except ValidationError:
            return None


CRISIS = Flow("crisis", ("follow",), CrisisConversation)
CHOOSE_COMMUNITY = Flow("choose_community", ("choose",), CommunityChoice)
TICKET_LOCATION = Flow("ticket_location", ("where",), TicketLocation)
TICKET_RATING = Flow("ticket_rating", ("rate",), TicketRating)
FAQ_CHOICE = Flow("faq_choice", ("choose",), FaqChoice)
VOLUNTEER_SIGNUP = Flow("volunteer_signup", ("name", "phone", "skills", "availability", "consent"), VolunteerSignup)
ACTIVITY_PICK = Flow("activity_pick", ("pick",), ActivityPick)
CHECKIN_LOCATION = Flow("checkin_location", ("location",), CheckinLocation)
SAFECHECK_TIME = Flow("safecheck_time", ("time",), SafecheckTime)
SAFECHECK_FAMILY = Flow("safecheck_family", ("who",), SafecheckFamily)
SAFECHECK_PAUSE = Flow("safecheck_pause", ("until",), SafecheckPause)
PARTICIPATION = Flow("participation", ("address", "proposal"), ParticipationPending)
OBJECTION_REASON = Flow("objection_reason", ("reason",), ObjectionReason)
MEDIATION_OFFER = Flow("mediation_offer", ("offer",), MediationOffer)

FLOWS: dict[str, Flow[Any]] = {
    flow.name: flow
    for flow in (
        CRISIS,
        CHOOSE_COMMUNITY,
        TICKET_LOCATION,
        TICKET_RATING,
        FAQ_CHOICE,
        VOLUNTEER_SIGNUP,
        ACTIVITY_PICK,
        CHECKIN_LOCATION,
        SAFECHECK_TIME,
        SAFECHECK_FAMILY,
        SAFECHECK_PAUSE,
        PARTICIPATION,
        OBJECTION_REASON,
        MEDIATION_OFFER,
    )
}
