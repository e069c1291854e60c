"""Crisis and emergency: the script for each danger, the alert, and the crisis conversation that follows."""

from handlers.crisis.handler import CRISIS_WINDOW, CrisisHandler, crisis_reply

__all__ = ["CRISIS_WINDOW", "CrisisHandler", "crisis_reply"]
