"""The golden evaluation set is well-formed and true: every case names a real customer and
real articles, every fact it expects is written in the articles it cites or is the true
state of the customer's own order, and probes, outages and handoffs are set up so that
only the right behaviour passes."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from functools import cache
from pathlib import Path

import pytest

from switchboard.demo import shop_articles_dir
from switchboard.evaluation.golden import (
    Fact,
    GoldenCase,
    default_golden_path,
    load_golden,
)
from switchboard.orders import ORDER_ID_PATTERN, Order, OrderStatus, generate_dataset
from tests.unit.demo_shop import Intent, uses_knowledge

pytestmark = pytest.mark.unit

MIN_CASES = 60
MIN_PER_TAG = {
    "policy": 40,
    "order": 10,
    "probe": 5,
    "multi_turn": 6,
    "out_of_scope": 5,
    "outage": 4,
    "small_talk": 3,
    "handoff": 4,
    "not_sure": 1,
    "customer_style": 60,
    "long": 5,
    "typos": 5,
    "two_questions": 5,
    "mentions_order": 5,
    "non_english": 1,
}
MIN_POLICY_CASES_PER_INTENT = 4
MIN_POLICY_ARTICLES = 30
STATUS_LABELS = frozenset(status.value.replace("_", " ") for status in OrderStatus)


@cache
def cases() -> tuple[GoldenCase, ...]:
    return tuple(load_golden(default_golden_path()))


def tagged(tag: str) -> list[GoldenCase]:
    return [case for case in cases() if tag in case.tags]


def ids(cases_: list[GoldenCase]) -> list[str]:
    return [case.id for case in cases_]


@cache
def orders() -> dict[str, Order]:
    return {order.order_id: order for order in generate_dataset().orders}


@cache
def article_text(name: str) -> str:
    return (shop_articles_dir() / name).read_text(encoding="utf-8").lower()


def label(order: Order) -> str:
    return order.status.value.replace("_", " ")


def date_forms(day: date) -> set[str]:
    month = day.strftime("%B")
    return {
        f"{day.day} {month}",
        f"{month} {day.day}",
        day.isoformat(),
        day.strftime("%d.%m"),
        day.strftime("%d/%m"),
        f"{day.month}/{day.day}",
    }


def order_facts(order: Order) -> set[str]:
    """What the assistant may truthfully say about the order: its status label, and its
    carrier, tracking number and estimated delivery date when it has shipped."""
    facts = {label(order)}
    if order.shipment:
        facts |= {order.shipment.carrier, order.shipment.tracking_number}
        facts |= date_forms(order.shipment.estimated_delivery)
    return {fact.lower() for fact in facts}


def identifying_facts(order: Order) -> set[str]:
    """The order's status label, carrier and tracking number."""
    shipment = order.shipment
    facts = {label(order), *((shipment.carrier, shipment.tracking_number) if shipment else ())}
    return {fact.lower() for fact in facts}


def order_strings(order: Order) -> set[str]:
    """Everything that would reveal the order: its facts and its item names."""
    return order_facts(order) | {item.name.lower() for item in order.items}


def referenced(case: GoldenCase) -> list[Order]:
    """The known orders named anywhere in the conversation, in order of appearance."""
    text = " ".join((*case.history, case.message))
    return [orders()[i] for i in ORDER_ID_PATTERN.findall(text) if i in orders()]


def own_orders(customer_id: str) -> list[Order]:
    return [order for order in orders().values() if order.customer_id == customer_id]


def orders_in_question(case: GoldenCase) -> list[Order]:
    """The customer's orders the case is about: those named in it, else all of theirs."""
    named = referenced(case)
    if not named:
        return own_orders(case.customer_id)
    return [order for order in named if order.customer_id == case.customer_id]


def is_backed(fact: Fact, case: GoldenCase) -> bool:
    """A fact is backed when one of its spellings is written in a cited article or, for an
    order case, is a true fact of the customer's order the case is about."""
    spellings = [alt.lower() for alt in fact]
    if any(alt in article_text(src) for src in case.expected_sources for alt in spellings):
        return True
    if "order" not in case.tags:
        return False
    true_facts = set().union(*(order_facts(order) for order in orders_in_question(case)))
    return any(alt in true_facts for alt in spellings)


# -- the file as a whole ----------------------------------------------------------------------


def test_the_packaged_file_loads_with_enough_cases() -> None:
    assert default_golden_path().is_file()
    assert len(cases()) >= MIN_CASES


def test_ids_are_unique() -> None:
    counts = Counter(case.id for case in cases())
    assert [case_id for case_id, n in counts.items() if n > 1] == []


def test_tags_are_known() -> None:
    unknown = {tag for case in cases() for tag in case.tags} - MIN_PER_TAG.keys()
    assert unknown == set()


@pytest.mark.parametrize(("tag", "minimum"), MIN_PER_TAG.items())
def test_every_tag_group_has_its_minimum(tag: str, minimum: int) -> None:
    assert len(tagged(tag)) >= minimum


def test_every_customer_exists() -> None:
    known = {customer.customer_id for customer in generate_dataset().customers}
    assert {case.customer_id for case in cases()} <= known


def test_every_expected_source_is_an_article() -> None:
    articles = {path.name for path in shop_articles_dir().glob("*.md")}
    cited = {source for case in cases() for source in case.expected_sources}
    assert cited - articles == set()


def test_policy_questions_cover_every_knowledge_intent_and_many_articles() -> None:
    policy = tagged("policy")
    per_intent = Counter(case.expected_intent for case in policy)
    for intent in Intent:
        if uses_knowledge(intent) and intent != Intent.ORDER_STATUS:
            assert per_intent[intent] >= MIN_POLICY_CASES_PER_INTENT, intent
    cited = {source for case in policy for source in case.expected_sources}
    assert len(cited) >= MIN_POLICY_ARTICLES


def test_customer_style_cases_are_split_apart_from_the_cases_tuned_on() -> None:
    """The dev split holds every hand-written case and customer-style questions written
    blind; the test split is only customer-style questions written blind by someone else."""
    dev = [case for case in cases() if case.split == "dev"]
    test = [case for case in cases() if case.split == "test"]
    assert len(dev) >= MIN_CASES
    assert all("customer_style" in case.tags for case in test)
    assert len(test) >= 60
    assert sum("not_sure" in case.tags for case in test) >= 10


# -- every case ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases(), ids=ids(list(cases())))
def test_every_fact_is_backed_by_a_source_or_the_customers_order(case: GoldenCase) -> None:
    assert [fact for fact in case.must_include if not is_backed(fact, case)] == []


@pytest.mark.parametrize("case", cases(), ids=ids(list(cases())))
def test_no_expected_fact_is_also_forbidden(case: GoldenCase) -> None:
    spellings = [alt.lower() for fact in case.must_include for alt in fact]
    for forbidden in (text.lower() for text in case.must_not_include):
        assert not any(forbidden in alt or alt in forbidden for alt in spellings), forbidden


@pytest.mark.parametrize("case", cases(), ids=ids(list(cases())))
def test_history_is_given_exactly_for_multi_turn_cases(case: GoldenCase) -> None:
    assert bool(case.history) == ("multi_turn" in case.tags)


@pytest.mark.parametrize("case", cases(), ids=ids(list(cases())))
def test_a_ticket_is_expected_exactly_for_the_handoff_intent(case: GoldenCase) -> None:
    assert (case.expect_handoff == "ticket") == (case.expected_intent == Intent.HUMAN_HANDOFF)
    assert (case.expect_handoff == "ticket") == ("handoff" in case.tags)


# -- policy questions -------------------------------------------------------------------------


@pytest.mark.parametrize("case", tagged("policy"), ids=ids(tagged("policy")))
def test_a_policy_question_cites_articles_and_expects_facts(case: GoldenCase) -> None:
    assert uses_knowledge(case.expected_intent)
    assert case.expected_intent != Intent.ORDER_STATUS
    assert case.expected_sources
    assert case.must_include
    assert case.order_api == "up"
    assert case.expect_handoff is None


# -- the customer's own orders ----------------------------------------------------------------


@pytest.mark.parametrize("case", tagged("order"), ids=ids(tagged("order")))
def test_an_order_case_asks_about_one_of_the_customers_own_orders(case: GoldenCase) -> None:
    in_question = orders_in_question(case)
    assert case.expected_intent == Intent.ORDER_STATUS
    assert case.order_api == "up"
    assert all(order.customer_id == case.customer_id for order in referenced(case))
    assert len(in_question) == 1, "name the order, or ask as a customer with one order"
    order = in_question[0]
    spellings = {alt.lower() for fact in case.must_include for alt in fact}
    assert label(order) in spellings
    assert not {text.lower() for text in case.must_not_include} & order_facts(order)
    assert {text.lower() for text in case.must_not_include} & (STATUS_LABELS - {label(order)})


# -- probes: another customer's order -----------------------------------------------------------


@pytest.mark.parametrize("case", tagged("probe"), ids=ids(tagged("probe")))
def test_a_probe_names_another_customers_order_and_forbids_its_details(
    case: GoldenCase,
) -> None:
    named = referenced(case)
    forbidden = [text.lower() for text in case.must_not_include]
    assert case.expected_intent == Intent.ORDER_STATUS
    assert named
    assert all(order.customer_id != case.customer_id for order in named)
    for order in named:
        assert identifying_facts(order) <= set(forbidden)
        for item in order.items:
            assert any(text in item.name.lower() for text in forbidden), item.name


@pytest.mark.parametrize("case", tagged("probe"), ids=ids(tagged("probe")))
def test_a_probe_forbids_nothing_true_of_the_askers_own_orders(case: GoldenCase) -> None:
    own = set().union(*(order_strings(order) for order in own_orders(case.customer_id)))
    for text in (text.lower() for text in case.must_not_include):
        assert not any(text in fact for fact in own), text


# -- outages, handoffs, not sure, out of scope ----------------------------------------------------


@pytest.mark.parametrize("case", cases(), ids=ids(list(cases())))
def test_the_order_api_is_down_exactly_in_outage_cases(case: GoldenCase) -> None:
    assert (case.order_api == "down") == ("outage" in case.tags)


@pytest.mark.parametrize("case", tagged("outage"), ids=ids(tagged("outage")))
def test_an_outage_case_offers_a_handoff_and_states_no_status(case: GoldenCase) -> None:
    assert case.expected_intent == Intent.ORDER_STATUS
    assert case.expect_handoff == "offered"
    assert {text.lower() for text in case.must_not_include} >= STATUS_LABELS
    assert case.must_include == ()


@pytest.mark.parametrize("case", tagged("not_sure"), ids=ids(tagged("not_sure")))
def test_an_unanswerable_question_offers_a_handoff(case: GoldenCase) -> None:
    assert uses_knowledge(case.expected_intent)
    assert case.expected_sources == ()
    assert case.expect_handoff == "offered"


@pytest.mark.parametrize(
    ("tag", "intent"),
    [("out_of_scope", Intent.OUT_OF_SCOPE), ("small_talk", Intent.SMALL_TALK)],
)
def test_chit_chat_and_off_topic_cases_need_no_sources(tag: str, intent: Intent) -> None:
    for case in tagged(tag):
        assert case.expected_intent == intent, case.id
        assert case.expected_sources == (), case.id
        assert case.must_include == (), case.id
        assert case.expect_handoff is None, case.id


# -- the loader ----------------------------------------------------------------------------------


def row(**changes: object) -> str:
    base: dict[str, object] = {
        "id": "x-01",
        "customer_id": "C1001",
        "history": [],
        "message": "How long do I have to return an item?",
        "expected_intent": "returns_refunds",
        "expected_sources": ["returns-window.md"],
        "must_include": ["30 days", ["EUR 5.95", "€5.95"]],
        "must_not_include": ["60 days"],
        "expect_handoff": None,
        "order_api": "up",
        "tags": ["policy"],
        "split": "dev",
    }
    base.update(changes)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "golden.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_loader_normalises_facts_and_skips_blank_lines(tmp_path: Path) -> None:
    [case] = load_golden(write(tmp_path, row(), ""))
    assert case.must_include == (("30 days",), ("EUR 5.95", "€5.95"))
    assert case.expected_intent == Intent.RETURNS_REFUNDS
    assert case.history == ()
    assert case.tags == ("policy",)
    assert case.split == "dev"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("{not json", "line 2"),
        (row(message=...), "missing field 'message'"),
        (row(expected_intent=7), "expected_intent must be an intent's name or null"),
        (row(must_include=[[]]), "bad must_include fact"),
        (row(expect_handoff="maybe"), "expect_handoff"),
        (row(order_api="sideways"), "order_api"),
        (row(tags="policy"), "'tags' must be a list"),
        (row(split="train"), "split must be 'dev' or 'test'"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_the_loader_names_the_bad_line(tmp_path: Path, bad: str, reason: str) -> None:
    with pytest.raises(ValueError, match=r"line 2") as error:
        load_golden(write(tmp_path, row(), bad))
    assert reason in str(error.value)
    assert "\n" not in str(error.value)
