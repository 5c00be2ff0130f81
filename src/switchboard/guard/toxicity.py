"""Toxicity: alt-profanity-check's shipped model, one finding per abusive sentence.

The package's model is a word tf-idf (English stop words dropped, l2 norm) feeding five
calibrated linear SVMs whose sigmoid probabilities are averaged. ``predict_prob`` costs
~8-11 ms for one text because of scikit-learn's per-call overhead; ``ProfanityModel``
reads the same fitted arrays once and does the arithmetic itself (~0.05 ms per sentence,
identical probabilities).

Each sentence (or line) is scored on its own, so a finding's span is the sentence and the
stream moderator can say where the abuse is. A short streamed window works the same way:
an unfinished sentence at its end is scored as it stands, and the vocabulary is single
words, so a window that holds the abusive word scores like the full sentence.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from switchboard.config import ToxicitySettings
from switchboard.guard.model_files import PROFANITY_MODEL, PROFANITY_VECTORIZER, verified
from switchboard.guard.types import Category, Finding

FINDING_TYPE = "PROFANITY"
_SENTENCE = re.compile(r"\S(?:[^\n]*?)(?:[.!?]+(?=\s)|$)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    start: int
    end: int


def sentences(text: str) -> list[Sentence]:
    """Sentences and lines of ``text`` with their offsets (punctuation kept)."""
    return [
        Sentence(m.group(0).rstrip(), m.start(), m.start() + len(m.group(0).rstrip()))
        for m in _SENTENCE.finditer(text)
    ]


class ProfanityModel:
    """Probability that a text is profane or abusive, from the package's fitted arrays."""

    def __init__(
        self,
        analyze: Callable[[str], list[str]],
        vocabulary: dict[str, int],
        idf: npt.NDArray[np.float64],
        weights: npt.NDArray[np.float64],
        intercepts: npt.NDArray[np.float64],
        calibration: npt.NDArray[np.float64],
    ) -> None:
        """``weights`` is (models, terms); ``calibration`` is (models, 2): sigmoid ``a, b``
        with ``p = 1 / (1 + exp(a * decision + b))``, averaged over the models."""
        self._analyze = analyze
        self._vocabulary = vocabulary
        self._idf = idf
        self._weights = weights
        self._intercepts = intercepts
        self._calibration = calibration

    @classmethod
    def from_fitted(cls, vectorizer: Any, calibrated: Any) -> ProfanityModel:
        """From a fitted ``TfidfVectorizer`` and a sigmoid ``CalibratedClassifierCV``."""
        if calibrated.method != "sigmoid" or vectorizer.sublinear_tf or vectorizer.norm != "l2":
            raise ValueError("expected a plain l2 tf-idf and sigmoid-calibrated linear models")
        members = calibrated.calibrated_classifiers_
        return cls(
            vectorizer.build_analyzer(),
            vectorizer.vocabulary_,
            np.asarray(vectorizer.idf_, dtype=np.float64),
            np.stack([m.estimator.coef_[0] for m in members]),
            np.array([m.estimator.intercept_[0] for m in members]),
            np.array([[m.calibrators[0].a_, m.calibrators[0].b_] for m in members]),
        )

    def probability(self, text: str) -> float:
        counts = Counter(t for t in self._analyze(text) if t in self._vocabulary)
        ids = np.fromiter((self._vocabulary[t] for t in counts), dtype=np.int64, count=len(counts))
        values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts)) * self._idf[ids]
        norm = math.sqrt(float(values @ values)) or 1.0
        decisions = self._weights[:, ids] @ (values / norm) + self._intercepts
        a, b = self._calibration[:, 0], self._calibration[:, 1]
        return float(np.mean(1.0 / (1.0 + np.exp(a * decisions + b))))

    def probabilities(self, texts: Sequence[str]) -> list[float]:
        return [self.probability(text) for text in texts]


@functools.cache
def packaged_model() -> ProfanityModel:
    """alt-profanity-check's ``model.joblib`` and ``vectorizer.joblib``, loaded once."""
    import warnings

    import joblib

    data = Path(str(resources.files("profanity_check") / "data"))
    vectorizer_file = verified(data / "vectorizer.joblib", PROFANITY_VECTORIZER)
    model_file = verified(data / "model.joblib", PROFANITY_MODEL)
    with warnings.catch_warnings():  # pickled with another scikit-learn minor version
        warnings.simplefilter("ignore")
        vectorizer = joblib.load(vectorizer_file)
        calibrated = joblib.load(model_file)
    return ProfanityModel.from_fitted(vectorizer, calibrated)


class ToxicityDetector:
    """One finding per sentence whose probability is at least ``settings.threshold``."""

    category = Category.TOXICITY

    def __init__(self, settings: ToxicitySettings, model: ProfanityModel | None = None) -> None:
        self._threshold = settings.threshold
        self._model = model or packaged_model()

    def score(self, text: str) -> float:
        """The highest sentence probability of ``text`` (0 for empty text)."""
        return max(self._model.probabilities([s.text for s in sentences(text)]), default=0.0)

    def scan(self, text: str) -> list[Finding]:
        parts = sentences(text)
        scores = self._model.probabilities([s.text for s in parts])
        return [
            Finding(self.category, FINDING_TYPE, part.start, part.end, score)
            for part, score in zip(parts, scores, strict=True)
            if score >= self._threshold
        ]
