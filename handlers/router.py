"""The one place handlers are assembled into a Router: the order of the routes is their priority."""

from __future__ import annotations

from handlers.base import FlowHandler, Route, Router
from handlers.crisis import CrisisHandler
from handlers.faq import CHOICE_FLOW, ConsultationHandler, FaqHandler
from handlers.greeting import FallbackHandler, GreetingHandler
from handlers.menu import MenuHandler
from handlers.residents import CHOOSE_FLOW, AddressHandler, CommunityChoiceFlow, SubscriptionHandler
from handlers.tickets.actions import RATING_FLOW
from handlers.tickets.reporting import LOCATION_FLOW, GrievanceHandler, GrievanceLocationFlow, TicketPhotoHandler
from handlers.tickets.status import RatingFlow, RatingHandler, TicketStatusHandler
from handlers.volunteering.activities import (
    ACTIVITY_FLOW,
    CHECKIN_LOCATION_FLOW,
    ActivityHandler,
    CheckinHandler,
    CheckinLocationFlow,
)
from handlers.volunteering.points import PointsHandler, SummaryHandler
from handlers.volunteering.signup import VOLUNTEER_FLOW, VolunteerHandler
from intents import Intent


def build_router() -> Router:
    """The order is the priority: crisis first, then commands, then questions."""
    faq = FaqHandler()
    volunteer = VolunteerHandler()
    activities = ActivityHandler()
    routes = (
        Route(CrisisHandler(), intents=frozenset({Intent.CRISIS, Intent.EMERGENCY})),
        Route(SubscriptionHandler(), events=frozenset({"subscribe", "subscribe_scan", "unsubscribe", "scan"})),
        Route(MenuHandler(), events=frozenset({"click"})),
        Route(AddressHandler(), intents=frozenset({Intent.SET_ADDRESS})),
        Route(CheckinHandler(), intents=frozenset({Intent.CHECKIN})),
        # The classifier has no class for "how many hours this month"; the handler recognises it itself,
        # whatever the classifier made of it, so it comes before the handlers it would be filed under.
        Route(SummaryHandler(), intents=frozenset(Intent) - {Intent.CRISIS, Intent.EMERGENCY}),
        Route(PointsHandler(), intents=frozenset({Intent.POINTS})),
        Route(volunteer, intents=frozenset({Intent.VOLUNTEER_SIGNUP})),
        Route(activities, intents=frozenset({Intent.ACTIVITY})),
        Route(TicketStatusHandler(), intents=frozenset({Intent.TICKET_STATUS})),
        Route(RatingHandler(), intents=frozenset({Intent.RATING})),
        Route(GrievanceHandler(), intents=frozenset({Intent.GRIEVANCE})),
        Route(TicketPhotoHandler(), kinds=frozenset({"image"})),
        Route(ConsultationHandler(), intents=frozenset({Intent.HUMAN})),
        Route(GreetingHandler(), intents=frozenset({Intent.GREETING, Intent.HELP})),
        Route(faq, intents=frozenset({Intent.LEGAL, Intent.PSYCH, Intent.SERVICE})),
    )
    flows: dict[str, FlowHandler] = {
        CHOOSE_FLOW: CommunityChoiceFlow(),
        LOCATION_FLOW: GrievanceLocationFlow(),
        RATING_FLOW: RatingFlow(),
        CHOICE_FLOW: faq,
        VOLUNTEER_FLOW: volunteer,
        ACTIVITY_FLOW: activities,
        CHECKIN_LOCATION_FLOW: CheckinLocationFlow(),
    }
    return Router(routes=routes, flows=flows, fallback=FallbackHandler())
