"""The semantic router's logic with a hashing bag-of-words embedder: scoring, the threshold,
order-number extraction and masking. How well it routes real messages is measured with the
real model in ``tests/integration/test_assistant_router_model.py``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from switchboard.assistant.router import SemanticRouter, top_k_mean
from tests.unit.demo_shop import EXAMPLES, ORDER_IDS, SHOP, Intent, specs
from tests.unit.fakes import HashingEmbedder

pytestmark = pytest.mark.unit

ORDER_PLACEHOLDER = ORDER_IDS.placeholder
extract_order_ids, mask_order_ids = ORDER_IDS.find, ORDER_IDS.mask

# One distinct vocabulary per intent, so the fake embedder routes by shared words.
WORDS = {
    Intent.ORDER_STATUS: "parcel whereabouts",
    Intent.RETURNS_REFUNDS: "refund return",
    Intent.SHIPPING: "delivery abroad",
    Intent.ACCOUNT: "password login",
    Intent.PAYMENTS: "invoice voucher",
    Intent.CANCELLATION: "cancel abort",
    Intent.HUMAN_HANDOFF: "human agent",
    Intent.SMALL_TALK: "hello thanks",
    Intent.OUT_OF_SCOPE: "poem weather",
}
SMALL_EXAMPLES = {
    intent: (f"{words} please", f"my {words}", f"about {words} now")
    for intent, words in WORDS.items()
}


def make_router(threshold: float = 0.5, k: int = 2) -> tuple[SemanticRouter, HashingEmbedder]:
    embedder = HashingEmbedder()
    return SemanticRouter(
        embedder, specs(SMALL_EXAMPLES), order_ids=ORDER_IDS, threshold=threshold, k=k
    ), embedder


def test_examples_are_embedded_once_in_one_batch() -> None:
    router, embedder = make_router()
    assert embedder.calls == 1
    assert len(embedder.texts) == sum(len(texts) for texts in SMALL_EXAMPLES.values())
    router.route("refund please")
    assert embedder.calls == 2


@pytest.mark.parametrize("intent", list(Intent))
def test_the_best_scoring_intent_wins_and_every_intent_is_scored(intent: Intent) -> None:
    router, _ = make_router()
    route = router.route(f"a question: {WORDS[intent]}?")
    assert route.intent == intent
    assert set(route.scores) == {i.value for i in Intent}
    assert route.confidence == max(route.scores.values()) == route.scores[intent.value]


def test_an_intent_scores_the_mean_of_its_k_nearest_examples() -> None:
    message = "refund please, it broke"
    embedder = HashingEmbedder()
    query = embedder.embed([message])[0]
    similarities = embedder.embed(SMALL_EXAMPLES[Intent.RETURNS_REFUNDS]) @ query
    for k, expected in ((1, similarities.max()), (2, np.sort(similarities)[-2:].mean())):
        route = make_router(k=k)[0].route(message)
        assert route.scores[Intent.RETURNS_REFUNDS.value] == pytest.approx(float(expected))


def test_top_k_mean_takes_all_values_when_there_are_fewer_than_k() -> None:
    values = np.array([0.1, 0.7, 0.4], dtype=np.float32)
    assert top_k_mean(values, 2) == pytest.approx(0.55)
    assert top_k_mean(values, 10) == pytest.approx(0.4)


def test_confident_is_the_score_reaching_the_threshold() -> None:
    score = make_router()[0].route("refund").confidence
    assert make_router(threshold=score)[0].route("refund").confident
    assert not make_router(threshold=score + 1e-6)[0].route("refund").confident


def test_an_unrelated_message_is_not_confident() -> None:
    route = make_router(threshold=0.5)[0].route("zzz qqq")
    assert not route.confident
    assert route.confidence < 0.5


@pytest.mark.parametrize("message", ["", "   ", "\n\t"])
def test_an_empty_message_is_refused(message: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        make_router()[0].route(message)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"k": 0}, "k must"), ({"threshold": 1.5}, "threshold"), ({"threshold": -2.0}, "threshold")],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        SemanticRouter(HashingEmbedder(), specs(SMALL_EXAMPLES), order_ids=ORDER_IDS, **kwargs)


def test_every_intent_needs_examples() -> None:
    examples = {**SMALL_EXAMPLES, Intent.PAYMENTS: (), Intent.ACCOUNT: ()}
    with pytest.raises(ValueError, match="account, payments"):
        SemanticRouter(HashingEmbedder(), specs(examples), order_ids=ORDER_IDS)


def test_a_router_needs_intents() -> None:
    with pytest.raises(ValueError, match="needs intents"):
        SemanticRouter(HashingEmbedder(), [], order_ids=ORDER_IDS)


# -- order numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("status of LK-100214?", ("LK-100214",)),
        ("lk-100214 and LK 100977 and lk555123", ("LK-100214", "LK-100977", "LK-555123")),
        ("LK\u2013100214 (typed on a phone)", ("LK-100214",)),
        ("(LK-100214), #LK-100215.", ("LK-100214", "LK-100215")),
        ("LK-100214 again: lk100214, LK 100214", ("LK-100214",)),
        ("first LK-200000 then LK-100000", ("LK-200000", "LK-100000")),
    ],
)
def test_order_numbers_are_found_normalised_in_order_once(text: str, ids: tuple[str, ...]) -> None:
    assert extract_order_ids(text) == ids


@pytest.mark.parametrize(
    "text",
    [
        "call me on 0171 123456",
        "my order 100214 is late",
        "+49 30 1234567",
        "LK-12345 is too short",
        "LK-1002145 is too long",
        "BLK-100214 is another code",
        "LK-100214X",
        "LK--100214",
        "LK\n100214",
        "walk 100214 steps",
    ],
)
def test_other_numbers_are_not_order_numbers(text: str) -> None:
    assert extract_order_ids(text) == ()


def test_order_numbers_are_masked_with_one_placeholder() -> None:
    assert mask_order_ids("is lk 100214 or LK-100977 late?") == (
        f"is {ORDER_PLACEHOLDER} or {ORDER_PLACEHOLDER} late?"
    )


def test_the_order_number_does_not_change_the_scores() -> None:
    router, embedder = make_router()
    first = router.route("parcel whereabouts LK-100214")
    second = router.route("parcel whereabouts lk 977531")
    assert first.scores == second.scores
    assert (first.order_ids, second.order_ids) == (("LK-100214",), ("LK-977531",))
    assert embedder.texts[-1] == f"parcel whereabouts {ORDER_PLACEHOLDER}"


def test_examples_with_order_numbers_are_masked_too() -> None:
    examples = {**SMALL_EXAMPLES, Intent.ORDER_STATUS: ("where is LK-123456",)}
    embedder = HashingEmbedder()
    SemanticRouter(embedder, specs(examples), order_ids=ORDER_IDS, k=1)
    assert f"where is {ORDER_PLACEHOLDER}" in embedder.texts
    assert not any("123456" in text for text in embedder.texts)


# -- the shipped examples --------------------------------------------------------------------


def test_the_shipped_examples_cover_every_intent_without_repeats() -> None:
    assert set(EXAMPLES) == set(Intent)
    assert all(len(texts) >= 20 for texts in EXAMPLES.values())
    flat = [text.lower() for texts in EXAMPLES.values() for text in texts]
    assert len(flat) == len(set(flat))


def test_a_router_builds_from_the_shipped_examples() -> None:
    router = SemanticRouter(HashingEmbedder(), SHOP.intents, order_ids=ORDER_IDS)
    route = router.route("I forgot my password")
    assert route.intent == Intent.ACCOUNT


def test_configured_threshold_defaults_to_the_measured_one() -> None:
    from switchboard.assistant.router import DEFAULT_THRESHOLD
    from switchboard.config import AssistantSettings

    assert AssistantSettings().router_threshold == DEFAULT_THRESHOLD
