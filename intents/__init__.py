"""What a resident wants: intents, the classification result, and the classifier protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Intent(StrEnum):
    LEGAL = "legal"
    PSYCH = "psych"
    SERVICE = "service"
    GRIEVANCE = "grievance"
    CRISIS = "crisis"
    EMERGENCY = "emergency"
    VOLUNTEER_SIGNUP = "volunteer_signup"
    CHECKIN = "checkin"
    POINTS = "points"
    ACTIVITY = "activity"
    TICKET_STATUS = "ticket_status"
    RATING = "rating"
    HUMAN = "human"
    GREETING = "greeting"
    HELP = "help"
    SET_ADDRESS = "set_address"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Classification:
    intent: Intent
    confidence: float
    # "rule" for commands and crisis words, "model" for the trained classifier, "default" otherwise.
    source: str = "default"
    slots: dict[str, str] = field(default_factory=dict)


class Classifier(Protocol):
    def classify(self, text: str) -> Classification: ...
