"""Parsing of the search command's repeated options."""

from __future__ import annotations

import pytest

from switchboard.cli.knowledge_cmds import parse_filters, parse_weights

pytestmark = pytest.mark.unit


def test_filters_become_typed_values_and_repeated_keys_become_lists() -> None:
    parsed = parse_filters(["lang=en", "year=2024", "score=0.5", "public=true", "lang=de"])
    assert parsed == {"lang": ["en", "de"], "year": 2024, "score": 0.5, "public": True}


def test_a_filter_without_a_value_is_refused() -> None:
    with pytest.raises(ValueError, match="expected key=value"):
        parse_filters(["lang"])


def test_weights_are_numbers_per_retriever() -> None:
    assert parse_weights(["bm25=0.5", "dense=2"]) == {"bm25": 0.5, "dense": 2.0}


@pytest.mark.parametrize("bad", ["bm25", "bm25=", "bm25=high"])
def test_a_weight_that_is_not_a_number_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="expected bm25=NUMBER"):
        parse_weights([bad])
