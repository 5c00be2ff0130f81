"""The IT helpdesk's golden set loads with the shop's loader and is true: every expected
article exists, every expected fact is written in the articles the case cites, questions
the articles do not cover expect "not sure", and no answer may speak of the shop.

The schema is the shop's: ``customer_id`` and ``order_api`` are required there, so the
helpdesk's cases hold neutral values (one employee id, the Order API up). Questions for the
articles expect no intent (``null``: not scored); chit-chat and off-topic messages expect
the helpdesk's own intents."""

from __future__ import annotations

from collections import Counter
from functools import cache

import pytest

from switchboard.demo import helpdesk_articles_dir, helpdesk_golden_path
from switchboard.evaluation.golden import GoldenCase, load_golden
from tests.unit.demo_shop import HELPDESK

pytestmark = pytest.mark.unit

MIN_PER_TAG = {
    "policy": 30,
    "not_sure": 8,
    "out_of_scope": 3,
    "small_talk": 2,
    "customer_style": 20,
    "two_sources": 6,
    "typos": 5,
    "two_questions": 3,
}
SHOP_WORDS = ("larkspur", "lk-", "order number")


@cache
def cases() -> tuple[GoldenCase, ...]:
    return tuple(load_golden(helpdesk_golden_path()))


def tagged(tag: str) -> list[GoldenCase]:
    return [case for case in cases() if tag in case.tags]


def ids(cases_: list[GoldenCase]) -> list[str]:
    return [case.id for case in cases_]


@cache
def article_text(name: str) -> str:
    return (helpdesk_articles_dir() / name).read_text(encoding="utf-8").lower()


def test_the_file_loads_with_enough_cases_and_unique_ids() -> None:
    assert len(cases()) >= 40
    counts = Counter(case.id for case in cases())
    assert [case_id for case_id, n in counts.items() if n > 1] == []


def test_tags_are_known_and_each_group_has_its_minimum() -> None:
    assert {tag for case in cases() for tag in case.tags} == MIN_PER_TAG.keys()
    for tag, minimum in MIN_PER_TAG.items():
        assert len(tagged(tag)) >= minimum, tag


def test_the_splits_are_about_half_each_and_the_test_split_is_written_apart() -> None:
    split = Counter(case.split for case in cases())
    assert abs(split["dev"] - split["test"]) <= len(cases()) // 10
    test = [case for case in cases() if case.split == "test"]
    assert all("customer_style" in case.tags for case in test)
    for tag in ("policy", "not_sure", "out_of_scope", "two_sources"):
        assert {case.split for case in tagged(tag)} == {"dev", "test"}, tag


def test_every_expected_source_is_an_article() -> None:
    articles = {path.name for path in helpdesk_articles_dir().glob("*.md")}
    cited = {source for case in cases() for source in case.expected_sources}
    assert cited - articles == set()
    assert len(cited) >= 20


@pytest.mark.parametrize("case", cases(), ids=ids(list(cases())))
def test_every_fact_is_written_in_a_cited_article(case: GoldenCase) -> None:
    def backed(alternatives: tuple[str, ...]) -> bool:
        return any(
            alt.lower() in article_text(source)
            for source in case.expected_sources
            for alt in alternatives
        )

    assert [fact for fact in case.must_include if not backed(fact)] == []


@pytest.mark.parametrize("case", cases(), ids=ids(list(cases())))
def test_no_answer_may_speak_of_the_shop(case: GoldenCase) -> None:
    assert {text.lower() for text in case.must_not_include} >= set(SHOP_WORDS)
    assert case.customer_id
    assert case.order_api == "up"
    assert case.history == ()


@pytest.mark.parametrize("case", tagged("policy"), ids=ids(tagged("policy")))
def test_an_answerable_question_cites_articles_and_expects_facts(case: GoldenCase) -> None:
    assert case.expected_intent is None
    assert case.expected_sources
    assert case.must_include
    assert case.expect_handoff is None
    if "two_sources" in case.tags:  # the answer needs both; elsewhere either one answers
        assert len(case.expected_sources) >= 2


@pytest.mark.parametrize("case", tagged("not_sure"), ids=ids(tagged("not_sure")))
def test_a_question_the_articles_do_not_cover_expects_not_sure(case: GoldenCase) -> None:
    assert case.expected_intent is None
    assert case.expected_sources == ()
    assert case.must_include == ()
    assert case.expect_handoff == "offered"


@pytest.mark.parametrize(
    ("tag", "intent"),
    [("out_of_scope", "out_of_scope"), ("small_talk", "small_talk")],
)
def test_chit_chat_and_off_topic_cases_need_no_sources(tag: str, intent: str) -> None:
    assert intent in {i.name for i in HELPDESK.intents}
    for case in tagged(tag):
        assert case.expected_intent == intent, case.id
        assert case.expected_sources == (), case.id
        assert case.must_include == (), case.id
        assert case.expect_handoff is None, case.id
