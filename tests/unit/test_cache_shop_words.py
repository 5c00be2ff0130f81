"""The false-hit guard with another shop's words and order numbers: its own file
(``cache.shop_words``) and format (``orders.id_pattern``) take effect, the demo's do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.cache.false_hit import FalseHitRules
from switchboard.cache.keys import exact_key
from switchboard.cache.service import open_cache
from switchboard.cache.shop_words import load_shop_words
from switchboard.cache.types import CachedAnswer, CacheScope
from switchboard.config import CacheSettings, OrdersSettings
from switchboard.demo import shop_words_path
from switchboard.order_ids import OrderIdFormat
from tests.unit.demo_shop import ORDER_IDS, RULES
from tests.unit.test_cache_service import ANGLES, AngleEmbedder

pytestmark = pytest.mark.unit

PADDLE_SHOP = """\
own_names = ["Kanuhaus"]
brands = ["vipps"]

[places]
norway = ["norway", "norge"]
oslo = ["oslo"]

[products]
kayak = ["kayak", "kayaks", "canoe", "canoes"]
paddle = ["paddle", "paddles"]

[audiences]
club = ["club", "clubs"]
"""
AB = OrderIdFormat.from_settings(OrdersSettings(id_pattern=r"\bAB-(\d{4})\b", id_format="AB-{}"))


@pytest.fixture
def words_file(tmp_path: Path) -> Path:
    path = tmp_path / "paddle_shop.toml"
    path.write_text(PADDLE_SHOP)
    return path


@pytest.fixture
def rules(words_file: Path) -> FalseHitRules:
    return FalseHitRules(load_shop_words(words_file), AB)


def test_the_demo_file_holds_the_demo_shops_words() -> None:
    words = load_shop_words(shop_words_path())
    assert words.places["britain"] == "united kingdom"
    assert words.products["rucksack"] == "backpack"
    assert words.audiences["b2b"] == "business"
    assert "dhl" in words.brands
    assert words.own_names == frozenset({"larkspur"})
    assert {"united", "kingdom"} <= words.alias_words


def test_another_shops_products_places_brands_and_audiences_set_questions_apart(
    rules: FalseHitRules,
) -> None:
    assert "products" in rules.conflicts("Can I return a kayak?", "Can I return a paddle?")
    assert rules.conflicts("Do you repair kayaks?", "Do you repair canoes?") == ()
    assert "places" in rules.conflicts("Delivery to Oslo?", "Delivery to Norway?")
    assert rules.conflicts("Delivery to Norge?", "Delivery to Norway?") == ()
    assert "names" in rules.conflicts("Can I pay with vipps?", "Can I pay with a card?")
    assert "audiences" in rules.conflicts("Discounts for clubs?", "Discounts?")
    assert rules.facets("Order from Kanuhaus?").names == frozenset()  # the shop's own name


def test_the_demo_shops_words_are_not_read_for_another_shop(rules: FalseHitRules) -> None:
    pair = ("Can I return the boots?", "Can I return the tent?")
    assert "products" in RULES.conflicts(*pair)
    assert "products" not in rules.facet_conflicts(*pair)
    assert rules.facets("Order from Larkspur?").names == frozenset({"larkspur"})


def test_another_shops_order_numbers_set_two_questions_apart(rules: FalseHitRules) -> None:
    assert "order_ids" in rules.conflicts("Where is AB-1234?", "Where is AB-1235?")
    assert rules.facets("Where is AB-1234?").order_ids == frozenset({"AB-1234"})
    assert rules.facets("Where is AB-1234?").numbers == frozenset()  # not a number
    assert RULES.facets("Where is AB-1234?").order_ids == frozenset()


def test_open_cache_reads_the_file_the_settings_name(tmp_path: Path, words_file: Path) -> None:
    settings = CacheSettings(shop_words=words_file, similarity_threshold=0.5)
    embedder = AngleEmbedder(dict(ANGLES))
    cache = open_cache(settings, tmp_path / "c.sqlite3", embedder, AB)
    scope = CacheScope("acme", "m", "s")
    question, other = "Can I return a kayak?", "Can I return a paddle?"  # both at 90 degrees
    cache.put(scope, question, _key(question), CachedAnswer("within 30 days"))
    try:
        assert cache.get(scope, "Can I return a canoe?", _key("Can I return a canoe?"))
        assert cache.get(scope, other, _key(other)) is None
    finally:
        cache.close()
    assert not RULES.is_false_hit(question, other)  # the demo's words would serve it


def test_the_default_settings_read_the_demo_file(tmp_path: Path) -> None:
    cache = open_cache(CacheSettings(), tmp_path / "c.sqlite3", None, ORDER_IDS)
    cache.close()
    assert CacheSettings().shop_words is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("brands = [", "is not valid TOML"),
        ("colours = ['red']", r"unknown keys \['colours'\]"),
        ("products = ['kayak']", r"\[products\] must be a table"),
        ("[products]\nkayak = 'kayak'", "products.kayak must be a list of words"),
        ("brands = [1]", "brands must be a list of words"),
    ],
)
def test_a_bad_words_file_is_refused_with_the_setting_named(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"cache.shop_words: .*{message}"):
        load_shop_words(path)


def test_a_missing_words_file_is_refused_when_the_cache_opens(tmp_path: Path) -> None:
    settings = CacheSettings(shop_words=tmp_path / "missing.toml")
    with pytest.raises(ValueError, match=r"cache\.shop_words: cannot read .*missing\.toml"):
        open_cache(settings, tmp_path / "c.sqlite3", None, ORDER_IDS)


def _key(text: str) -> str:
    return exact_key([{"role": "user", "content": text}], {"temperature": 0})
