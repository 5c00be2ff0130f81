"""The prompt-injection classifier: a linear model trained at load time from shipped data.

No model file ships and nothing downloads. Two shipped files are fitted in a second or two
of CPU: ``guard/data/injection_train.jsonl`` (our own injection, jailbreak, exfiltration,
indirect-injection, authority-claim and policy-override, and role-play-as-a-system
examples in en/de/fr/it/es, requests for other customers' data or for offensive output,
forced promises, pasted tool output, payloads split or disguised, against ordinary and
"trap" texts that say ignore, forget, system, instructions, promise, act as, manager or
approved innocently, quote the shop's emails, or are angry) and ``guard/data/benign_support.jsonl``
(ordinary shop support messages, all benign; the evaluation measures their false positives by
cross-validation). Word n-grams catch the phrasing of an attack ("ignore all previous
instructions"); character n-grams catch inflections, typos and unseen languages.

The liblinear solver is deterministic: two trainings on the same data give identical
scores. Scoring goes through ``LinearScorer``, the fitted model's arithmetic without the
scikit-learn call overhead (a pipeline call costs ~3 ms for one text, this ~0.2 ms).
"""

from __future__ import annotations

import codecs
import functools
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

MALICIOUS = "malicious"
BENIGN = "benign"
C = 16.0  # weak regularisation: the set is small and hand-written, every row is meant
# Attacks are about a sixth of the rows once support messages and scrambled views are in.
# Their weight sets where the 0.5 threshold falls: 0.8 was chosen on the dev split
# (``bench/data/guard_dev``) as the weight at which false positives on its support
# messages stay under 2% (1.0 and above flag 3% or more, lower weights lose recall).
CLASS_WEIGHT = {0: 1.0, 1: 0.8}


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    malicious: bool
    category: str = ""


@dataclass(frozen=True, slots=True)
class SupportMessage:
    """An ordinary support message; ``group`` ties rows made from one template together,
    so cross-validation never trains on a sibling of the row it scores."""

    id: str
    topic: str
    group: str
    text: str


def data_path(name: str) -> Path:
    """A file shipped in ``switchboard/guard/data``."""
    return Path(str(resources.files("switchboard.guard") / "data" / name))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def load_examples(path: Path | None = None) -> list[Example]:
    """Labelled rows ``{"text", "label": malicious|benign, "category"}``."""
    path = path or data_path("injection_train.jsonl")
    examples = []
    for row in _jsonl(path):
        if row["label"] not in (MALICIOUS, BENIGN):
            raise ValueError(f"{path}: label {row['label']!r} is not malicious|benign")
        examples.append(Example(row["text"], row["label"] == MALICIOUS, row.get("category", "")))
    return examples


def load_support(path: Path | None = None) -> list[SupportMessage]:
    path = path or data_path("benign_support.jsonl")
    return [SupportMessage(r["id"], r["topic"], r["group"], r["text"]) for r in _jsonl(path)]


def training_set(support: Iterable[SupportMessage]) -> list[Example]:
    """The shipped examples plus the given support messages as benign rows."""
    return [*load_examples(), *(Example(m.text, False, "support") for m in support)]


def scrambled(text: str) -> list[str]:
    """The rot13 and reversed views of ``text``. The detector scores these views of every
    message to catch hidden instructions; of an ordinary message they are gibberish, and
    from these rows the model learns that gibberish is benign."""
    return [codecs.decode(text, "rot13"), text[::-1]]


def _vectorizers() -> list[tuple[str, TfidfVectorizer]]:
    return [
        ("words", TfidfVectorizer(ngram_range=(1, 3), sublinear_tf=True, strip_accents="unicode")),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)),
    ]


@dataclass(frozen=True, slots=True)
class _Block:
    """One vectorizer's part of the linear model: tf-idf, l2 norm, then its weights."""

    analyze: Callable[[str], list[str]]
    index: dict[str, int]
    weight: npt.NDArray[np.float64]  # idf * coefficient, per vocabulary term
    idf: npt.NDArray[np.float64]

    def decision(self, text: str) -> float:
        counts = Counter(t for t in self.analyze(text) if t in self.index)
        if not counts:
            return 0.0
        ids = np.fromiter((self.index[t] for t in counts), dtype=np.int64, count=len(counts))
        tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
        norm = math.sqrt(float(np.dot(tf * self.idf[ids], tf * self.idf[ids])))
        return float(np.dot(tf, self.weight[ids])) / norm


class LinearScorer:
    """``sigmoid(sum of block decisions + intercept)``: what the fitted pipeline computes."""

    def __init__(self, pipeline: Pipeline) -> None:
        union: FeatureUnion = pipeline.named_steps["features"]
        classifier: LogisticRegression = pipeline.named_steps["classifier"]
        coef = classifier.coef_[0]
        self._blocks = []
        offset = 0
        for _, vectorizer in union.transformer_list:
            vocabulary: dict[str, int] = vectorizer.vocabulary_
            idf = np.asarray(vectorizer.idf_, dtype=np.float64)
            weight = idf * coef[offset : offset + len(idf)]
            self._blocks.append(_Block(vectorizer.build_analyzer(), vocabulary, weight, idf))
            offset += len(idf)
        self._intercept = float(classifier.intercept_[0])

    def score(self, text: str) -> float:
        z = self._intercept + sum(block.decision(text) for block in self._blocks)
        return 1.0 / (1.0 + math.exp(-z))


class InjectionModel:
    """Probability that a text is an injection or jailbreak attempt."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._scorer = LinearScorer(pipeline)

    @classmethod
    def train(cls, examples: Iterable[Example], *, seed: int = 0) -> InjectionModel:
        rows = list(examples)
        if {row.malicious for row in rows} != {True, False}:
            raise ValueError("training needs both malicious and benign examples")
        rows += [
            Example(view, False, "benign_scrambled")
            for row in rows
            if not row.malicious
            for view in scrambled(row.text)
        ]
        pipeline = Pipeline(
            [
                ("features", FeatureUnion(_vectorizers())),
                (
                    "classifier",
                    LogisticRegression(
                        C=C, class_weight=CLASS_WEIGHT, solver="liblinear", random_state=seed
                    ),
                ),
            ]
        )
        pipeline.fit([row.text for row in rows], [int(row.malicious) for row in rows])
        return cls(pipeline)

    def scores(self, texts: Sequence[str]) -> list[float]:
        return [self._scorer.score(text) for text in texts]


@functools.cache
def default_model() -> InjectionModel:
    """The model trained on all shipped data, once per process."""
    return InjectionModel.train(training_set(load_support()))
