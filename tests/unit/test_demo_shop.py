"""The demo shop's knowledge base: every article loads, is well-formed and agrees with
the others on the facts a customer would check."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from switchboard.demo import DEMO_COLLECTION, shop_articles_dir
from switchboard.rag.loaders import load_path
from switchboard.rag.types import Document

pytestmark = pytest.mark.unit

REQUIRED_CATEGORIES = {
    "shipping",
    "delivery",
    "returns",
    "refunds",
    "exchanges",
    "warranty",
    "payments",
    "invoices",
    "account",
    "orders",
    "promotions",
    "international",
    "parcels",
    "gift-cards",
    "price-match",
    "product-care",
    "size-guide",
    "contact",
}
ARTICLES = sorted(shop_articles_dir().glob("*.md"))


@cache
def load(path: Path) -> Document:
    result = load_path(path)
    if result.errors or len(result.documents) != 1:
        raise ValueError(f"{path.name}: {result.errors}")
    return result.documents[0]


def documents() -> list[Document]:
    return [load(path) for path in ARTICLES]


def by_id(article_id: str) -> Document:
    return next(d for d in documents() if d.metadata["id"] == article_id)


def numbers(pattern: str) -> dict[str, set[str]]:
    """Per article id, the distinct values the pattern's group captures (where found)."""
    found = {d.metadata["id"]: set(re.findall(pattern, d.text)) for d in documents()}
    return {k: v for k, v in found.items() if v}


def test_the_demo_collection_has_a_name() -> None:
    assert DEMO_COLLECTION == "shop"


def test_there_are_at_least_44_articles() -> None:
    assert len(ARTICLES) >= 44


@pytest.mark.parametrize("path", ARTICLES, ids=lambda p: p.stem)
def test_an_article_is_well_formed(path: Path) -> None:
    doc = load(path)
    meta = doc.metadata
    assert meta["id"] == path.stem
    assert meta["url"] == f"https://help.larkspur.example/{path.stem}"
    assert meta["category"] in REQUIRED_CATEGORIES
    assert doc.title
    assert doc.text.startswith(f"# {doc.title}\n")
    assert "\n## " in doc.text
    assert 120 <= len(doc.text.split()) <= 400
    assert re.search(r"\d", doc.text)


def test_ids_urls_and_titles_are_unique() -> None:
    for key in ("id", "url"):
        values = [d.metadata[key] for d in documents()]
        assert len(values) == len(set(values)), key
    titles = [d.title for d in documents()]
    assert len(titles) == len(set(titles))


def test_every_required_category_is_covered() -> None:
    assert {d.metadata["category"] for d in documents()} == REQUIRED_CATEGORIES


def test_the_return_window_is_the_same_everywhere() -> None:
    found = numbers(r"(\d+)-day return window")
    assert {"returns-window", "returns-how-to", "exchanges", "refund-timeline"} <= found.keys()
    assert set().union(*found.values()) == {"30"}
    assert "30 days from delivery" in by_id("returns-window").text


def test_the_free_shipping_threshold_is_the_same_everywhere() -> None:
    found = numbers(r"free[ -]shipping[^.|]*?EUR (\d+)|free standard shipping[^.|]*?EUR (\d+)")
    values = {v for groups in found.values() for pair in groups for v in pair if v}
    assert len(found) >= 5
    assert values == {"75"}


def test_shipping_prices_agree_with_the_price_table() -> None:
    table = by_id("shipping-costs").text
    for price in ("4.95", "7.95", "12.95", "19.95", "14.95", "29.95", "24.95", "39.95"):
        assert f"EUR {price}" in table
    assert "EUR 4.95" in by_id("delivery-times-germany").text
    assert "EUR 24.95" in by_id("orders-to-us").text
    assert "EUR 14.95" in by_id("orders-to-uk").text


def test_refunds_are_issued_within_the_same_time_after_inspection() -> None:
    found = numbers(r"within (\d+) business days after the return is inspected")
    assert {"returns-how-to", "refund-timeline", "exchanges"} <= found.keys()
    assert set().union(*found.values()) == {"5"}


def test_the_eu_return_label_fee_is_the_same_everywhere() -> None:
    found = numbers(r"EUR (\d+\.\d+) (?:from your refund|per return parcel)")
    assert {"return-shipping-costs", "refund-deductions"} <= found.keys()
    assert set().union(*found.values()) == {"5.95"}


def test_contact_details_are_the_same_everywhere() -> None:
    phones = numbers(r"\+49[\d ]+\d")
    assert len(phones) >= 3
    assert set().union(*phones.values()) == {"+49 431 5550 190"}
    assert set().union(*numbers(r"VAT ID (DE\d+)").values()) == {"DE318452706"}


def test_warranty_periods_are_stated_once_and_echoed_consistently() -> None:
    periods = by_id("warranty-periods").text
    assert "| Tents and backpacks | 5 years |" in periods
    assert "| Clothing and jackets | 2 years |" in periods
    assert "2-year warranty for clothing" in by_id("care-waterproof-jackets").text
    assert "up to 10 years" in by_id("warranty-exclusions").text
