"""What every handler gets (a Context) and gives back (a Reply, or UNHANDLED to let the next one try)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

from sqlalchemy.orm import Session

from handlers.flows import Flow, S
from handlers.messages import Inbound, Reply
from intents import Classification, Intent
from storage import repositories as repo
from storage.models import Community, DialogueState, Resident

if TYPE_CHECKING:
    from handlers.runtime import Runtime, Settings


class _Unhandled(enum.Enum):
    UNHANDLED = "unhandled"


UNHANDLED: Final = _Unhandled.UNHANDLED
Outcome = Reply | _Unhandled


@dataclass
class Context:
    """One message's unit of work: the open transaction, who sent it, and the shared services."""

    session: Session
    settings: Settings
    services: Runtime
    resident: Resident
    now: datetime
    inbound_id: int | None = None
    community: Community | None = None
    # Filled by the dispatcher so a handler can see how sure the classifier was.
    classification: Classification | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    # Where the resident is in a flow, once read (the message path loads it with the resident).
    _dialogue: DialogueState | None = field(default=None, init=False, repr=False)
    _dialogue_read: bool = field(default=False, init=False, repr=False)

    @property
    def community_id(self) -> int | None:
        return self.community.id if self.community else None

    def preload_dialogue(self, state: DialogueState | None) -> None:
        """The dialogue state as loaded with the resident; expired state is dropped as `dialogue()` would."""
        if state is not None and state.expires_at <= self.now:
            self.session.delete(state)
            state = None
        self._dialogue, self._dialogue_read = state, True

    def dialogue(self) -> DialogueState | None:
        if not self._dialogue_read:
            self._dialogue = repo.get_dialogue(self.session, resident_id=self.resident.id, now=self.now)
            self._dialogue_read = True
        return self._dialogue

    def start_flow(self, flow: Flow[S], step: str, state: S) -> None:
        """Begin a flow, or move it to its next step, with its typed state (see handlers/flows.py)."""
        if step not in flow.steps:
            raise ValueError(f"flow {flow.name!r} has no step {step!r}")
        repo.set_dialogue(
            self.session,
            resident_id=self.resident.id,
            flow=flow.name,
            step=step,
            data=state.model_dump(mode="json"),
            now=self.now,
            ttl=timedelta(minutes=self.settings.dialogue_ttl_minutes),
        )
        self._dialogue_read = False

    def end_dialogue(self) -> None:
        repo.clear_dialogue(self.session, resident_id=self.resident.id)
        self._dialogue, self._dialogue_read = None, True

    def send_later(
        self, *, channel: str, recipient: str, payload: dict[str, Any], dedupe_key: str | None = None
    ) -> None:
        """Queue a message in this transaction: it leaves only if the change that caused it commits."""
        repo.enqueue_outbox(
            self.session,
            channel=channel,
            recipient=recipient,
            payload=payload,
            community_id=self.community_id,
            now=self.now,
            dedupe_key=dedupe_key,
        )


class Handler(Protocol):
    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome: ...


class FlowHandler(Handler, Protocol):
    """A handler that holds a multi-turn conversation and picks it up again from DialogueState."""

    def resume(self, ctx: Context, msg: Inbound, cls: Classification, state: DialogueState) -> Outcome: ...


Predicate = Callable[[Inbound, Classification], bool]


@dataclass(frozen=True)
class Route:
    handler: Handler
    intents: frozenset[Intent] = frozenset()
    kinds: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()

    def matches(self, msg: Inbound, cls: Classification) -> bool:
        if msg.kind == "event":
            return msg.event in self.events
        if msg.kind in ("text", "voice"):
            return cls.intent in self.intents or msg.kind in self.kinds
        return msg.kind in self.kinds


@dataclass(frozen=True)
class Router:
    """Routes walked in order, first match wins; flows resume multi-turn conversations by name."""

    routes: tuple[Route, ...]
    flows: dict[str, FlowHandler]
    fallback: Handler
