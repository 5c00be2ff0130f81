"""The verifier, the guard's second stage: questions that swap one action, subject or
preposition for another mismatch; paraphrases that swap synonyms or add detail do not.
The pairs are written for these checks and are not the labelled evaluation set."""

from __future__ import annotations

import pytest

from switchboard.cache.verify import is_mismatch, mismatches, read
from tests.unit.demo_shop import RULES

pytestmark = pytest.mark.unit

conflicts, facet_conflicts, is_false_hit = (
    RULES.conflicts,
    RULES.facet_conflicts,
    RULES.is_false_hit,
)


@pytest.mark.parametrize(
    ("cached", "query", "why"),
    [
        ("How do I use a gift card?", "How do I buy a gift card?", "substitution"),
        ("How do I wash my sleeping bag?", "How do I dry my sleeping bag?", "substitution"),
        ("Can I cancel my order?", "Can I change my order?", "substitution"),
        ("How do I track my parcel?", "How do I cancel my parcel?", "substitution"),
        ("How do I file a complaint?", "How do I file a warranty claim?", "substitution"),
        ("How do I log in?", "How do I log out?", "substitution"),
        ("I forgot my password", "I forgot my email", "substitution"),
        ("How long does shipping take?", "How much does shipping cost?", "substitution"),
        ("Can I get a refund for a gift card?", "Can I get a refund to a gift card?", "relation"),
        ("Can I pay with the voucher?", "Can I pay for the voucher?", "relation"),
        ("When was my parcel dispatched?", "When was my parcel delivered?", "substitution"),
        ("Can I cancel my newsletter?", "Can I cancel my order?", "substitution"),  # goods
        ("How do I redeem a gift card?", "How do I check a gift card's balance?", "substitution"),
        ("Can I pay with a gift card?", "Can I buy a gift card?", "substitution"),
        ("Who pays the import duties?", "Who pays the shipping costs?", "substitution"),
    ],
)
def test_a_swapped_concept_mismatches(cached: str, query: str, why: str) -> None:
    assert why in mismatches(cached, query)
    assert why in mismatches(query, cached)  # symmetric
    assert is_mismatch(cached, query)


@pytest.mark.parametrize(
    ("cached", "query"),
    [
        ("How do I return something?", "What's the process for sending an item back?"),
        ("When will I get my refund?", "How long until I get my money back?"),
        ("How do I wash my down jacket?", "What's the best way to clean a down jacket?"),
        ("Can I modify my order?", "How do I change an order?"),
        ("Do you sell gift vouchers?", "Can I buy a gift card?"),
        ("Do you deliver to Austria?", "Can you ship orders to Austria?"),
        ("How long do refunds take?", "When will the refund arrive?"),  # time vs action
        ("Do I pay customs?", "Are there import fees?"),  # pay stands in for a fee
        ("How do I return a tent?", "How do I return a tent by post for a refund?"),  # detail
        ("How long do I have to return it?", "What's the time limit for sending it back?"),
        ("Does the warranty apply to a gift?", "Is the warranty valid for a gift?"),
        ("Where is my parcel?", "Where's my package?"),  # goods in other words
        ("Can I use two gift cards?", "Can I pay with two gift cards?"),  # use = pay with
        ("Has my order been dispatched?", "Has my order shipped?"),  # ship ~ dispatch
        ("Where is my order?", "What's the status of my order?"),  # an action, not goods
        ("Can I return an item?", "Can I send something back?"),
        ("I lost access to my authenticator.", "My phone with the authenticator is gone."),
        ("", ""),
    ],
)
def test_paraphrases_align(cached: str, query: str) -> None:
    assert mismatches(cached, query) == ()


def test_reading_maps_inflections_and_phrases_to_concepts() -> None:
    found = read("Refunded? I sent the boots back and tracked the parcels")
    assert {c for _, c in found.concepts} >= {"refund", "return", "track"}
    assert ("action", "refund") in read("Can I have my money back?").concepts
    assert ("subject", "gift card") in read("Do you sell gift vouchers?").concepts


def test_a_preposition_ties_only_a_subject_it_directly_precedes() -> None:
    assert ("gift card", "to") in read("a refund to my gift card").roles
    assert read("how much to get free delivery").roles == frozenset()  # "to" + verb
    assert read("an order for same-day dispatch").roles == frozenset()  # not a subject


def test_words_outside_the_lexicon_are_no_evidence() -> None:
    assert read("Can I pause it?").concepts == frozenset()
    assert mismatches("How do I cancel my order?", "How do I pause my order?") == ()


def test_the_default_guard_runs_the_verifier_after_the_rules() -> None:
    cached, query = "How do I wash a down jacket?", "How do I dry a down jacket?"
    assert facet_conflicts(cached, query) == ()
    assert conflicts(cached, query) == ("substitution",)
    assert is_false_hit(cached, query)
    rules_first = ("How do I wash a jacket?", "How do I dry a tent?")
    assert conflicts(*rules_first) == ("products",)
