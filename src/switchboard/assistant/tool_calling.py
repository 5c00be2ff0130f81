"""The assistant's tools as OpenAI function calls, for models that call tools themselves.

A remote model with function calling (vLLM, OpenAI, llama-server with ``--jinja``) is
offered the same tools the router would pick: ``get_order``, ``list_orders`` and
``search_help_center``. The customer is never a parameter: every call runs for the
session's customer, so a model cannot be talked into reading someone else's order. Results
go back as ``tool`` messages, each fitted into the exact token budget; help-centre results
are numbered ``[n]`` across the whole turn so the answer can cite them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from switchboard.assistant.evidence import source_chunk
from switchboard.assistant.order_tool import OrderSource, look_up_orders
from switchboard.assistant.prompt_budget import SourceChunk, source_text
from switchboard.assistant.turn import relevance
from switchboard.assistant.types import Message, ToolCall, ToolResultEvent
from switchboard.rag.types import SearchHit

MAX_ROUNDS = 4  # model calls per turn; the last one is offered no tools
NO_ROOM = "The result did not fit in the context window."
NOT_FOUND = "No help-centre article answers this."

TOOL_SPECS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_order",
            "description": "Status, items, shipment and tracking of one of the customer's orders.",
            "parameters": {
                "type": "object",
                "properties": {
                    "order_id": {
                        "type": "string",
                        "description": "The order number, like LK-123456.",
                    }
                },
                "required": ["order_id"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "list_orders",
            "description": "The customer's most recent orders and their statuses.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search_help_center",
            "description": "Search the shop's help-centre articles (shipping, returns, "
            "refunds, payments, account, warranty).",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "What to look up."}},
                "required": ["query"],
            },
        },
    },
]


@dataclass
class ToolOutcome:
    """One call's result: what the customer sees (events), what the model reads (parts of
    the tool message, most important first), and what it means for the turn."""

    parts: list[str]
    events: list[ToolResultEvent] = field(default_factory=list)
    sources: list[SourceChunk] = field(default_factory=list)  # in ``parts`` order, after [0]
    unavailable: bool = False
    unsure: bool = False


class ToolBox:
    """Runs the model's tool calls for one customer."""

    def __init__(
        self,
        customer_id: str,
        orders: OrderSource,
        search: Callable[[str], list[SearchHit]],
        relevance_floor: float,
    ) -> None:
        self.customer_id = customer_id
        self._orders = orders
        self._search = search
        self._floor = relevance_floor

    async def call(self, call: ToolCall, first_number: int) -> ToolOutcome:
        """Run ``call``; help-centre results are numbered from ``first_number``."""
        try:
            arguments = json.loads(call.arguments or "{}")
            if not isinstance(arguments, dict):
                raise ValueError("arguments must be a JSON object")
        except ValueError as exc:
            return ToolOutcome([f"Invalid arguments for {call.name}: {exc}"])
        match call.name:
            case "get_order" | "list_orders":
                order_id = arguments.get("order_id")
                if call.name == "get_order" and not isinstance(order_id, str):
                    return ToolOutcome(["get_order needs an order_id string."])
                ids = [order_id] if isinstance(order_id, str) else []
                lookup = await look_up_orders(self._orders, self.customer_id, ids)
                parts = ["\n\n".join(lookup.prompt_blocks)]
                return ToolOutcome(parts, list(lookup.events), unavailable=lookup.unavailable)
            case "search_help_center":
                query = arguments.get("query")
                if not isinstance(query, str) or not query.strip():
                    return ToolOutcome(["search_help_center needs a query string."])
                return await self._help_center(query, first_number)
        return ToolOutcome([f"There is no tool named {call.name!r}."])

    async def _help_center(self, query: str, first_number: int) -> ToolOutcome:
        hits = await asyncio.to_thread(self._search, query)
        best = relevance(hits)
        if best is None or best < self._floor:
            return ToolOutcome([NOT_FOUND], unsure=True)
        sources = [source_chunk(hit) for hit in hits]
        parts = ["Help-centre articles; cite them by number:"]
        parts += [source_text(first_number + i, s) for i, s in enumerate(sources)]
        return ToolOutcome(parts, sources=sources)


def fit_tool_message(
    messages: list[Message],
    call_id: str,
    outcome: ToolOutcome,
    fits: Callable[[list[Message]], bool],
) -> tuple[Message, list[SourceChunk]]:
    """The tool message with as many of ``outcome.parts`` as fit (a prefix, so sources stay
    in rank order), and the sources it holds; ``NO_ROOM`` if not even the first fits."""
    included: list[str] = []
    for part in outcome.parts:
        candidate = _tool_message(call_id, [*included, part])
        if not fits([*messages, candidate]):
            break
        included.append(part)
    if not included:
        return _tool_message(call_id, [NO_ROOM]), []
    kept = max(0, len(included) - 1) if outcome.sources else 0
    return _tool_message(call_id, included), outcome.sources[:kept]


def assistant_tool_calls(text: str, calls: Sequence[ToolCall]) -> Message:
    """The model's turn that asked for ``calls``, as the next request must repeat it."""
    return {
        "role": "assistant",
        "content": text,
        "tool_calls": [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in calls
        ],
    }


def _tool_message(call_id: str, parts: Sequence[str]) -> Message:
    return {"role": "tool", "tool_call_id": call_id, "content": "\n\n".join(parts)}
