"""Model prices: what a request costs in USD, from configured per-million-token prices.

Prices are keyed by the model name a provider serves. A model without a price costs
nothing (local models are priced by configuration, if at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from switchboard.config import Price
from switchboard.gateway.types import Usage

_PER = 1_000_000


class PriceTable:
    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices: Mapping[str, Price] = MappingProxyType(dict(prices))

    def known(self, model: str) -> bool:
        return model in self._prices

    def cost(self, model: str, usage: Usage) -> float:
        """The USD cost of ``usage`` on ``model``; 0.0 for a model without a price."""
        return self._cost(model, usage.prompt_tokens, usage.completion_tokens)

    def estimate(self, model: str, prompt_tokens: int, max_tokens: int) -> float:
        """An upper bound of a request's cost: as if it generated all of ``max_tokens``."""
        return self._cost(model, prompt_tokens, max_tokens)

    def _cost(self, model: str, input_tokens: int, output_tokens: int) -> float:
        if input_tokens < 0 or output_tokens < 0:
            raise ValueError(f"token counts must be >= 0, got {input_tokens}, {output_tokens}")
        price = self._prices.get(model)
        if price is None:
            return 0.0
        return (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / _PER
