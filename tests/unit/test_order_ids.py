"""A shop's order-number format is a setting: the demo's ``LK-123456`` by default, another
shop's (``AB-1234``) when configured, found, masked and removed by the same code."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from switchboard.assistant.focus import with_order_ids
from switchboard.assistant.router import SemanticRouter
from switchboard.assistant.turn import search_query
from switchboard.assistant.types import Route
from switchboard.cache.shop_words import load_shop_words
from switchboard.config import OrdersSettings, Settings
from switchboard.demo import shop_words_path
from switchboard.guard.factory import WARM_UP
from switchboard.order_ids import OrderIdFormat
from tests.unit.demo_shop import Intent, specs
from tests.unit.fakes import HashingEmbedder
from tests.unit.test_assistant_router import SMALL_EXAMPLES

pytestmark = pytest.mark.unit

OTHER_SHOP = OrdersSettings(id_pattern=r"(?i)\bAB-?(\d{4})\b", id_format="AB-{}")
AB = OrderIdFormat.from_settings(OTHER_SHOP)


def test_the_default_format_is_the_demo_shops() -> None:
    demo = OrderIdFormat.from_settings(OrdersSettings())
    assert demo.find("is lk 100214 or LK\u2013100977 late? AB-1234") == ("LK-100214", "LK-100977")
    assert demo.placeholder == "LK-000000"


def test_another_shops_order_numbers_are_found_in_its_canonical_form() -> None:
    text = "Where are ab1234 and AB-5678? (not LK-100214, not AB-12345)"
    assert AB.find(text) == ("AB-1234", "AB-5678")
    assert AB.mask("is ab1234 late?") == "is AB-000000 late?"
    assert AB.remove("Can I return AB-1234 today?") == "Can I return today?"
    assert AB.remove("AB-1234") == "AB-1234"
    assert AB.spans("see AB-1234") == [(4, 11)]


def test_the_format_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SWITCHBOARD_ORDERS__ID_PATTERN", r"\bAB-(\d{4})\b")
    monkeypatch.setenv("SWITCHBOARD_ORDERS__ID_FORMAT", "AB-{}")
    assert OrderIdFormat.from_settings(Settings().orders).find("AB-1234 LK-100214") == ("AB-1234",)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"id_pattern": r"\bAB-\d{4}\b"}, "exactly one capture group, not 0"),
        ({"id_pattern": r"\b(AB)-(\d{4})\b"}, "exactly one capture group, not 2"),
        ({"id_pattern": r"\bAB-(\d{4}"}, "no regular expression"),
        ({"id_format": "AB-"}, r"exactly one '\{\}'"),
        ({"id_format": "{}-{}"}, r"exactly one '\{\}'"),
        ({"id_format": "AB-{0}"}, r"exactly one '\{\}'"),
    ],
)
def test_a_bad_format_is_refused_with_its_setting_named(
    fields: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        OrdersSettings(**fields)


def test_the_router_finds_and_masks_the_configured_order_numbers() -> None:
    embedder = HashingEmbedder()
    router = SemanticRouter(embedder, specs(SMALL_EXAMPLES), order_ids=AB, k=2)
    first = router.route("parcel whereabouts AB-1234")
    second = router.route("parcel whereabouts ab9876 LK-100214")
    assert (first.order_ids, second.order_ids) == (("AB-1234",), ("AB-9876",))
    assert embedder.texts[-1] == "parcel whereabouts AB-000000 LK-100214"


def test_the_assistants_helpers_use_the_configured_format() -> None:
    route = with_order_ids(Route(Intent.SHIPPING, 0.7, True), "order AB-1234: to Oslo?", AB)
    assert route.order_ids == ("AB-1234",)
    assert search_query("Can I return it?", "Where is AB-1234?", AB) == (
        "Where is ? Can I return it?"
    )


def test_the_guard_warm_up_names_none_of_the_demo_shops_facts() -> None:
    demo = load_shop_words(shop_words_path())
    words = {w.strip(":?,.").lower() for w in WARM_UP.split()}
    assert OrderIdFormat.from_settings(OrdersSettings()).find(WARM_UP) == ()
    assert not words & {*demo.places, *demo.products, *demo.own_names}
