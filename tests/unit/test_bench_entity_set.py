"""The entity-centric retrieval set built from the demo shop's articles and a golden file."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.demo import shop_articles_dir
from switchboard.evaluation.golden import default_golden_path, load_golden
from switchboard_bench.beir import BeirDoc, load_beir
from switchboard_bench.entity_set import article_entry, shop_entity_set, write_beir

pytestmark = pytest.mark.unit

ARTICLE = """---
id: returns-window
title: How long do I have to return an item?
url: https://help.example/returns-window
---

# How long do I have to return an item?

You can return most items within 30 days from delivery. This window applies everywhere.

## How the 30 days are counted

- Day 1 is the day after delivery.
"""


def test_an_entry_is_the_title_and_the_first_sentence_of_the_body() -> None:
    assert article_entry(ARTICLE) == BeirDoc(
        title="How long do I have to return an item?",
        text="You can return most items within 30 days from delivery.",
    )


def test_without_front_matter_the_first_heading_is_the_title() -> None:
    entry = article_entry("# Gift cards\n\n- a list first\n\nGift cards never expire. Really.\n")
    assert entry == BeirDoc(title="Gift cards", text="Gift cards never expire.")


def test_the_demo_set_has_every_article_and_the_golden_questions_with_sources() -> None:
    cases = load_golden(default_golden_path())
    dataset = shop_entity_set(shop_articles_dir(), cases)
    assert len(dataset.corpus) == len(list(shop_articles_dir().glob("*.md")))
    with_sources = [c for c in cases if c.expected_sources]
    assert set(dataset.queries) == {c.id for c in with_sources}
    first = with_sources[0]
    assert dataset.qrels[first.id] == dict.fromkeys(first.expected_sources, 1)
    assert all(len(doc.text.split()) <= 60 for doc in dataset.corpus.values())


def test_written_files_load_back_as_the_same_set(tmp_path: Path) -> None:
    dataset = shop_entity_set(shop_articles_dir(), load_golden(default_golden_path()))
    write_beir(dataset, tmp_path)
    loaded = load_beir(tmp_path)
    assert loaded.queries == dataset.queries
    assert loaded.qrels == dataset.qrels
    doc = loaded.corpus["returns-window.md"]
    assert doc.text.startswith("How long do I have to return an item? You can return")


def test_no_articles_or_no_matching_case_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no Markdown articles"):
        shop_entity_set(tmp_path, [])
    with pytest.raises(ValueError, match="no case expects"):
        shop_entity_set(shop_articles_dir(), [])
