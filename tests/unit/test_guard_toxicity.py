"""The toxicity detector: sentence spans and thresholds with a tiny hand-built model, then
the real alt-profanity-check model (loads in ~0.3 s once scikit-learn is imported)."""

from __future__ import annotations

import numpy as np
import pytest

from switchboard.config import ToxicitySettings
from switchboard.guard.toxicity import (
    FINDING_TYPE,
    ProfanityModel,
    ToxicityDetector,
    packaged_model,
    sentences,
)
from switchboard.guard.types import Category

pytestmark = pytest.mark.unit


def tiny_model() -> ProfanityModel:
    """One model over the vocabulary {"idiot", "parcel"}: "idiot" pushes towards profane."""
    return ProfanityModel(
        analyze=lambda text: text.lower().replace(".", " ").replace("!", " ").split(),
        vocabulary={"idiot": 0, "parcel": 1},
        idf=np.array([1.0, 1.0]),
        weights=np.array([[4.0, -1.0]]),
        intercepts=np.array([-1.0]),
        calibration=np.array([[-1.0, 0.0]]),  # p = 1 / (1 + exp(-decision))
    )


def test_sentences_keep_offsets_and_split_lines() -> None:
    text = "Where is my parcel? You idiot.  Fix it!\nThanks"
    parts = sentences(text)
    assert [p.text for p in parts] == ["Where is my parcel?", "You idiot.", "Fix it!", "Thanks"]
    assert all(text[p.start : p.end] == p.text for p in parts)
    assert sentences("") == []


def test_tiny_model_arithmetic() -> None:
    model = tiny_model()
    assert model.probability("idiot") == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert model.probability("parcel") == pytest.approx(1 / (1 + np.exp(2.0)))
    assert model.probability("nothing known") == pytest.approx(1 / (1 + np.exp(1.0)))


def test_one_finding_per_offending_sentence() -> None:
    detector = ToxicityDetector(ToxicitySettings(threshold=0.9), tiny_model())
    text = "Where is my parcel? You idiot. Fix it! Idiot!"
    findings = detector.scan(text)
    assert [text[f.start : f.end] for f in findings] == ["You idiot.", "Idiot!"]
    assert all(f.category is Category.TOXICITY and f.type == FINDING_TYPE for f in findings)


def test_threshold_is_respected() -> None:
    score = tiny_model().probability("idiot")
    assert ToxicityDetector(ToxicitySettings(threshold=score), tiny_model()).scan("idiot")
    at_above = ToxicitySettings(threshold=min(1.0, score + 1e-9))
    assert ToxicityDetector(at_above, tiny_model()).scan("idiot") == []


@pytest.fixture(scope="module")
def real() -> ToxicityDetector:
    return ToxicityDetector(ToxicitySettings(threshold=0.8), packaged_model())


def test_real_model_matches_the_package() -> None:
    from profanity_check import predict_prob

    texts = ["you stupid idiot", "hell of a delay", "where is LK-123456", "", "the and"]
    expected = predict_prob(texts)
    assert packaged_model().probabilities(texts) == pytest.approx(list(expected), abs=1e-9)


def test_real_model_flags_the_abusive_sentence_only(real: ToxicityDetector) -> None:
    text = "Where is my parcel LK-123456? You are a fucking idiot. Please send it today."
    [finding] = real.scan(text)
    assert text[finding.start : finding.end] == "You are a fucking idiot."
    assert finding.score >= 0.8


@pytest.mark.parametrize(
    "text",
    [
        "This is ridiculous, my parcel is two weeks late.",
        "I'm extremely disappointed with your service.",
        "Do you sell a cocktail shaker for camping?",
    ],
)
def test_real_model_passes_civil_frustration_and_lookalikes(
    real: ToxicityDetector, text: str
) -> None:
    assert real.scan(text) == []


def test_a_short_streamed_window_is_scored_like_the_sentence(real: ToxicityDetector) -> None:
    """An unfinished sentence at the end of a window is scored as it stands."""
    window = "der has shipped. You useless piece of shit, I"  # cut at both ends
    [finding] = real.scan(window)
    assert window[finding.start : finding.end] == "You useless piece of shit, I"
