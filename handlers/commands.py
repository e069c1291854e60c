"""Commands that name their item ("异议 A5 理由", "附议 P12", "投票 V3 2") come before a pending question.

A resident who was asked something (where the lamp is, their name for a sign-up) and then scans the notice
board to object or support means the command, not an answer: the question is set aside and asked again
after the command is handled (handlers/slots.py)."""

from __future__ import annotations

from handlers.base import Context
from handlers.board.objection import parse_objection
from handlers.flows import FLOWS, OBJECTION_REASON, PARTICIPATION
from handlers.participation.chat import recognise
from handlers.slots import pause
from storage.models import DialogueState

# These flows are the commands' own: they read a second command themselves.
_OWN = frozenset({OBJECTION_REASON.name, PARTICIPATION.name})
STILL_WAITING = "刚才的事还没办完，接着回复我就行。"


def names_its_item(text: str) -> bool:
    asked = recognise(text)
    return parse_objection(text) is not None or (asked is not None and asked.kind in ("support", "vote"))


def set_aside_for_command(ctx: Context, state: DialogueState, text: str) -> bool:
    """True when `text` is such a command: the pending flow then waits until the command is handled."""
    if state.flow in _OWN or not names_its_item(text):
        return False
    flow = FLOWS.get(state.flow)
    typed = flow.read(state.data) if flow is not None else None
    ctx.end_dialogue()
    if flow is not None and typed is not None and state.step in flow.steps:
        pause(ctx, flow, state.step, typed, STILL_WAITING)
    return True
