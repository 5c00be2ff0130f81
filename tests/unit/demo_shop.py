"""The demo shop as the tests of its behaviour see it: its definition (``SHOP``), its
intents' names (``Intent``) and what each does, and its order-number format and false-hit
rules as the default settings build them."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

from switchboard.assistant.definition import demo_definition, intents_by_name
from switchboard.assistant.definition_parts import IntentSpec
from switchboard.assistant.types import Action
from switchboard.cache.false_hit import FalseHitRules
from switchboard.config import CacheSettings, OrdersSettings
from switchboard.order_ids import OrderIdFormat

SHOP = demo_definition("shop")
HELPDESK = demo_definition("helpdesk")
ORDER_IDS = OrderIdFormat.from_settings(OrdersSettings())
RULES = FalseHitRules.from_settings(CacheSettings(), ORDER_IDS)
GUARD = RULES.is_false_hit


class Intent(enum.StrEnum):
    """The shop's intents, as its definition declares them."""

    ORDER_STATUS = "order_status"
    RETURNS_REFUNDS = "returns_refunds"
    SHIPPING = "shipping"
    ACCOUNT = "account"
    PAYMENTS = "payments"
    CANCELLATION = "cancellation"
    HUMAN_HANDOFF = "human_handoff"
    SMALL_TALK = "small_talk"
    OUT_OF_SCOPE = "out_of_scope"


ACTIONS = intents_by_name(SHOP)


def action_of(intent: str) -> Action:
    return ACTIONS[intent]


def uses_knowledge(intent: str) -> bool:
    """Intents the shop answers from its help-centre articles (order status included)."""
    return ACTIONS[intent] in (Action.ANSWER, Action.LOOKUP)


EXAMPLES: dict[str, list[str]] = {intent.name: intent.examples for intent in SHOP.intents}
"""The shop router's examples, by intent."""


def specs(examples: Mapping[str, Sequence[str]]) -> list[IntentSpec]:
    """Intents of the shop's names with other examples (unchecked: a test may give none)."""
    return [
        IntentSpec.model_construct(name=str(name), action=ACTIONS[name], examples=list(texts))
        for name, texts in examples.items()
    ]


GROUNDED_SYSTEM = SHOP.prompts.grounded
SMALL_TALK_SYSTEM = SHOP.prompts.small_talk
NOT_SURE = SHOP.replies.not_sure
OUT_OF_SCOPE = SHOP.replies.out_of_scope
OTHER_LANGUAGE = SHOP.replies.other_language
