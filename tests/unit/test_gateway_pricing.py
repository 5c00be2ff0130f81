"""The price table: costs from USD-per-million-token prices."""

from __future__ import annotations

import pytest

from switchboard.config import Price
from switchboard.gateway.pricing import PriceTable
from switchboard.gateway.types import Usage

pytestmark = pytest.mark.unit

PRICES = PriceTable(
    {
        "gpt-4o-mini": Price(input_per_mtok=0.15, output_per_mtok=0.60),
        "local-free": Price(),
    }
)


def test_cost_adds_input_and_output_prices() -> None:
    cost = PRICES.cost("gpt-4o-mini", Usage(prompt_tokens=1000, completion_tokens=500))
    assert cost == pytest.approx(1000 * 0.15e-6 + 500 * 0.60e-6)


def test_estimate_is_an_upper_bound_of_the_cost() -> None:
    estimate = PRICES.estimate("gpt-4o-mini", prompt_tokens=1000, max_tokens=500)
    assert estimate == pytest.approx(0.00045)
    for completion in (0, 1, 250, 500):
        assert PRICES.cost("gpt-4o-mini", Usage(1000, completion)) <= estimate


def test_unknown_models_cost_nothing() -> None:
    assert not PRICES.known("mystery")
    assert PRICES.known("local-free")
    assert PRICES.cost("mystery", Usage(10**6, 10**6)) == 0.0
    assert PRICES.estimate("local-free", 10**6, 10**6) == 0.0


def test_the_table_is_a_copy_of_its_input() -> None:
    prices = {"m": Price(input_per_mtok=1.0)}
    table = PriceTable(prices)
    prices["m"] = Price(input_per_mtok=100.0)
    assert table.cost("m", Usage(10**6, 0)) == pytest.approx(1.0)


def test_negative_token_counts_are_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        PRICES.estimate("gpt-4o-mini", -1, 10)
