"""The classifier the dispatcher uses: rules first, then the trained model (or keywords without one)."""

from __future__ import annotations

from intents import Classification, Classifier, Intent
from intents.keywords import classify_by_keywords
from intents.rules import match_rules


class RuleFirstClassifier:
    def __init__(self, model: Classifier | None = None) -> None:
        self._model = model

    def classify(self, text: str) -> Classification:
        text = text.strip()
        if not text:
            return Classification(Intent.UNKNOWN, 1.0, "rule")
        ruled = match_rules(text)
        if ruled is not None:
            return ruled
        if self._model is not None:
            return self._model.classify(text)
        return classify_by_keywords(text)
