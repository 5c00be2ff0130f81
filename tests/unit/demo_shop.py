"""The demo shop's order-number format and false-hit rules, as the default settings build
them: what tests of the demo's behaviour hand to the components."""

from __future__ import annotations

from switchboard.cache.false_hit import FalseHitRules
from switchboard.config import CacheSettings, OrdersSettings
from switchboard.order_ids import OrderIdFormat

ORDER_IDS = OrderIdFormat.from_settings(OrdersSettings())
RULES = FalseHitRules.from_settings(CacheSettings(), ORDER_IDS)
GUARD = RULES.is_false_hit
