"""The trained intent classifier: character n-gram TF-IDF (plus sentence embeddings when given) into
logistic regression, trained on the team's labelled examples in intents/data/labelled.jsonl.

Training takes about a second, so the model is trained at warm-up rather than shipped as a binary.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from intents import Classification, Intent

LABELLED = Path(__file__).parent / "data" / "labelled.jsonl"

# Learnt, so that danger-like texts do not crowd the other classes, but never returned (see classify).
URGENT = frozenset({Intent.CRISIS, Intent.EMERGENCY})

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Example:
    text: str
    intent: Intent


def load_examples(path: Path = LABELLED) -> list[Example]:
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        try:
            examples.append(Example(str(row["text"]), Intent(row["intent"])))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{path}:{number}: bad labelled example ({exc})") from exc
    return examples


class IntentModel:
    def __init__(self, embed: Embed | None = None, *, embedding_weight: float = 1.0) -> None:
        self._embed = embed
        self._weight = embedding_weight
        self._vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=1)
        self._model = LogisticRegression(max_iter=2000, C=8.0)
        self._classes: list[Intent] = []

    def _features(self, texts: Sequence[str], *, fit: bool = False) -> csr_matrix:
        lexical = self._vectorizer.fit_transform(texts) if fit else self._vectorizer.transform(texts)
        if self._embed is None:
            return csr_matrix(lexical)
        dense = csr_matrix(self._embed(list(texts)) * self._weight)
        return csr_matrix(hstack([lexical, dense]))

    def fit(self, examples: Sequence[Example]) -> IntentModel:
        texts = [e.text for e in examples]
        labels = [e.intent.value for e in examples]
        self._model.fit(self._features(texts, fit=True), labels)
        self._classes = [Intent(c) for c in self._model.classes_]
        return self

    def probabilities(self, text: str) -> dict[Intent, float]:
        # One short text per message: scikit-learn's input checks cost more than the prediction.
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            probs = self._model.predict_proba(self._features([text]))[0]
        return {intent: float(p) for intent, p in zip(self._classes, probs, strict=True)}

    def classify(self, text: str) -> Classification:
        """The likeliest ordinary intent. Danger is the rules' to decide (intents/danger.py): a model that
        learnt "死" and "火" from crisis examples raised red alerts on "累死了" and "火苗是黄的"."""
        probs = self.probabilities(text)
        ordinary = {intent: p for intent, p in probs.items() if intent not in URGENT}
        best = max(ordinary, key=lambda intent: ordinary[intent])
        return Classification(best, ordinary[best], "model")
