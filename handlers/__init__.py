"""Request handlers, one module per kind of request, assembled into one Router here."""

from __future__ import annotations

from handlers.base import Route, Router
from handlers.crisis import CrisisHandler
from handlers.greeting import FallbackHandler, GreetingHandler
from handlers.menu import HumanHandler, MenuHandler
from handlers.residents import CHOOSE_FLOW, AddressHandler, CommunityChoiceFlow, SubscriptionHandler
from intents import Intent


def build_router() -> Router:
    """The order is the priority: crisis first, then commands, then questions."""
    routes = (
        Route(CrisisHandler(), intents=frozenset({Intent.CRISIS, Intent.EMERGENCY})),
        Route(SubscriptionHandler(), events=frozenset({"subscribe", "subscribe_scan", "unsubscribe", "scan"})),
        Route(MenuHandler(), events=frozenset({"click"})),
        Route(AddressHandler(), intents=frozenset({Intent.SET_ADDRESS})),
        Route(HumanHandler(), intents=frozenset({Intent.HUMAN})),
        Route(GreetingHandler(), intents=frozenset({Intent.GREETING, Intent.HELP})),
    )
    return Router(routes=routes, flows={CHOOSE_FLOW: CommunityChoiceFlow()}, fallback=FallbackHandler())
