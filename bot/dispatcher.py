"""One dispatcher: classify the message, resume a flow or pick the first matching route, return a Reply."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from handlers.base import UNHANDLED, Context, Router
from handlers.commands import set_aside_for_command
from handlers.messages import Inbound, Reply
from handlers.slots import resume_paused
from intents import Classification, Classifier, Intent
from intents.normalise import normalise_text

log = logging.getLogger(__name__)

# These interrupt any flow in progress: nobody should have to finish a sign-up form to get help.
URGENT = frozenset({Intent.CRISIS, Intent.EMERGENCY})


@dataclass(frozen=True)
class DispatchResult:
    reply: Reply
    classification: Classification
    handler: str


class Dispatcher:
    def __init__(self, router: Router, classifier: Classifier) -> None:
        self.router = router
        self.classifier = classifier

    def classify(self, msg: Inbound) -> Classification:
        if msg.kind in ("text", "voice") and msg.text.strip():
            return self.classifier.classify(msg.text)
        return Classification(Intent.UNKNOWN, 1.0, "kind")

    def dispatch(self, ctx: Context, msg: Inbound) -> DispatchResult:
        result = self._dispatch(ctx, msg)
        # A flow the message interrupted (handlers/slots.py) waits again, unless it started one of its own.
        reply = resume_paused(ctx, result.reply)
        return result if reply is result.reply else replace(result, reply=reply)

    def _dispatch(self, ctx: Context, msg: Inbound) -> DispatchResult:
        # Traditional characters and full-width digits read as the rules and the knowledge base are written.
        msg = replace(msg, text=normalise_text(msg.text))
        cls = self.classify(msg)
        ctx.classification = cls
        if cls.intent not in URGENT and msg.kind != "event":
            state = ctx.dialogue()
            flow = self.router.flows.get(state.flow) if state else None
            if state is not None and set_aside_for_command(ctx, state, msg.text):
                state = flow = None  # "异议 A5 …" while asked something else: the command first
            if state is not None and flow is not None:
                outcome = flow.resume(ctx, msg, cls, state)
                if outcome is not UNHANDLED:
                    return DispatchResult(outcome, cls, type(flow).__name__)
                # The resident moved on to something else: drop the flow and route normally.
                ctx.end_dialogue()
        for route in self.router.routes:
            if route.matches(msg, cls):
                outcome = route.handler.handle(ctx, msg, cls)
                if outcome is not UNHANDLED:
                    return DispatchResult(outcome, cls, type(route.handler).__name__)
        outcome = self.router.fallback.handle(ctx, msg, cls)
        if outcome is UNHANDLED:
            raise RuntimeError("the fallback handler must always answer")
        return DispatchResult(outcome, cls, type(self.router.fallback).__name__)
