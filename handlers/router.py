"""The one place handlers are assembled into a Router: the order of the routes is their priority."""

from __future__ import annotations

from handlers.base import FlowHandler, Route, Router
from handlers.board.objection import ObjectionHandler
from handlers.compound import INTENTS, CompoundHandler
from handlers.crisis import CrisisHandler
from handlers.faq import ConsultationHandler, FaqHandler
from handlers.flows import (
    ACTIVITY_PICK,
    CHECKIN_LOCATION,
    CHOOSE_COMMUNITY,
    CRISIS,
    FAQ_CHOICE,
    FLOWS,
    MEDIATION_OFFER,
    OBJECTION_REASON,
    PARTICIPATION,
    SAFECHECK_FAMILY,
    SAFECHECK_PAUSE,
    SAFECHECK_TIME,
    TICKET_LOCATION,
    TICKET_RATING,
    VOLUNTEER_SIGNUP,
)
from handlers.greeting import FallbackHandler, GreetingHandler
from handlers.menu import MenuHandler
from handlers.neighbours import NeighbourHandler
from handlers.office import OfficeHoursHandler
from handlers.participation.chat import ParticipationHandler
from handlers.residents import AddressHandler, CommunityChoiceFlow, SubscriptionHandler
from handlers.tickets.reporting import (
    GrievanceHandler,
    GrievanceLocationFlow,
    PlaceCorrectionHandler,
    SeparateReportHandler,
    TicketPhotoHandler,
)
from handlers.tickets.status import RatingFlow, RatingHandler, TicketStatusHandler
from handlers.volunteering.activities import ActivityHandler
from handlers.volunteering.checkin import CheckinHandler, CheckinLocationFlow
from handlers.volunteering.points import PointsHandler, SummaryHandler
from handlers.volunteering.signup import VolunteerHandler
from handlers.wellbeing.chat import WellbeingHandler
from intents import Intent


def build_router() -> Router:
    """The order is the priority: crisis first, then commands, then questions."""
    faq = FaqHandler()
    volunteer = VolunteerHandler()
    activities = ActivityHandler()
    crisis = CrisisHandler()
    wellbeing = WellbeingHandler()
    participation = ParticipationHandler()
    objection = ObjectionHandler()
    neighbours = NeighbourHandler()
    routes = (
        Route(crisis, intents=frozenset({Intent.CRISIS, Intent.EMERGENCY})),
        Route(SubscriptionHandler(), events=frozenset({"subscribe", "subscribe_scan", "unsubscribe", "scan"})),
        Route(MenuHandler(), events=frozenset({"click"})),
        # An address told with a complaint, a report with a question: each part handled as if alone.
        Route(CompoundHandler(), intents=INTENTS),
        Route(neighbours, intents=INTENTS),
        Route(OfficeHoursHandler(), intents=INTENTS),
        Route(AddressHandler(), intents=frozenset({Intent.SET_ADDRESS})),
        # 报平安 ("我想每天报个平安", "好", "已上门，平安"): the handler recognises its phrases, whatever the class.
        Route(wellbeing, intents=frozenset(Intent) - {Intent.CRISIS, Intent.EMERGENCY}),
        # "我有个建议…", "附议 P12", "投票 V3 2": the handler recognises its own words whatever the classifier
        # made of them (a vote is no activity, a suggestion no ticket unless something is broken), so it
        # comes before the volunteering, activity and grievance routes.
        Route(participation, intents=frozenset(Intent) - {Intent.CRISIS, Intent.EMERGENCY}),
        Route(CheckinHandler(), intents=frozenset({Intent.CHECKIN})),
        # "异议 A5 理由" on the notice board: the handler recognises its own command, whatever the classifier
        # made of it, before a rating in words ("不满意") or a report could take it.
        Route(objection, intents=frozenset(Intent) - {Intent.CRISIS, Intent.EMERGENCY}),
        # The classifier has no class for "how many hours this month"; the handler recognises it itself,
        # whatever the classifier made of it, so it comes before the handlers it would be filed under.
        Route(SummaryHandler(), intents=frozenset(Intent) - {Intent.CRISIS, Intent.EMERGENCY}),
        Route(PointsHandler(), intents=frozenset({Intent.POINTS})),
        Route(volunteer, intents=frozenset({Intent.VOLUNTEER_SIGNUP})),
        Route(activities, intents=frozenset({Intent.ACTIVITY})),
        # "不是同一个" right after a report joined a ticket: whatever the classifier made of it.
        Route(PlaceCorrectionHandler(), intents=INTENTS),
        Route(SeparateReportHandler(), intents=frozenset(Intent) - {Intent.CRISIS, Intent.EMERGENCY}),
        Route(TicketStatusHandler(), intents=frozenset({Intent.TICKET_STATUS})),
        # "3分吧", "还行", "根本没修好": the handler recognises a rating itself, whatever the classifier thought.
        Route(RatingHandler(), intents=frozenset(Intent) - {Intent.CRISIS, Intent.EMERGENCY}),
        Route(GrievanceHandler(), intents=frozenset({Intent.GRIEVANCE})),
        Route(TicketPhotoHandler(), kinds=frozenset({"image"})),
        Route(ConsultationHandler(), intents=frozenset({Intent.HUMAN})),
        Route(GreetingHandler(), intents=frozenset({Intent.GREETING, Intent.HELP})),
        Route(faq, intents=frozenset({Intent.LEGAL, Intent.PSYCH, Intent.SERVICE})),
    )
    flows: dict[str, FlowHandler] = {
        CRISIS.name: crisis,
        CHOOSE_COMMUNITY.name: CommunityChoiceFlow(),
        TICKET_LOCATION.name: GrievanceLocationFlow(),
        TICKET_RATING.name: RatingFlow(),
        FAQ_CHOICE.name: faq,
        VOLUNTEER_SIGNUP.name: volunteer,
        ACTIVITY_PICK.name: activities,
        CHECKIN_LOCATION.name: CheckinLocationFlow(),
        SAFECHECK_TIME.name: wellbeing,
        SAFECHECK_FAMILY.name: wellbeing,
        SAFECHECK_PAUSE.name: wellbeing,
        PARTICIPATION.name: participation,
        OBJECTION_REASON.name: objection,
        MEDIATION_OFFER.name: neighbours,
    }
    if set(flows) != set(FLOWS):
        raise RuntimeError(f"flows without a handler: {sorted(set(FLOWS) - set(flows))}")
    return Router(routes=routes, flows=flows, fallback=FallbackHandler())
