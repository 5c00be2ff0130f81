"""The IT helpdesk corpus, the second assistant's documents: every article loads, is
well-formed, never speaks of the shop, and agrees with the others on the facts an
employee would check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from switchboard.demo import DEMO_COLLECTION, HELPDESK_COLLECTION, helpdesk_articles_dir
from switchboard.rag.types import Document
from tests.unit.test_demo_shop import load

pytestmark = pytest.mark.unit

CATEGORIES = {
    "network",
    "accounts",
    "hardware",
    "software",
    "printing",
    "email",
    "storage",
    "security",
    "mobile",
    "meetings",
    "service-desk",
}
SHOP_WORDS = ("larkspur", "lk-", "order", "shop", "customer")
ARTICLES = sorted(helpdesk_articles_dir().glob("*.md"))


def documents() -> list[Document]:
    return [load(path) for path in ARTICLES]


def found(pattern: str) -> dict[str, set[str]]:
    """Per article id, the distinct strings the pattern matches (where it matches)."""
    matches = {d.metadata["id"]: set(re.findall(pattern, d.text)) for d in documents()}
    return {k: v for k, v in matches.items() if v}


def test_the_helpdesk_has_its_own_collection_and_about_twenty_articles() -> None:
    assert HELPDESK_COLLECTION != DEMO_COLLECTION
    assert 20 <= len(ARTICLES) <= 30


@pytest.mark.parametrize("path", ARTICLES, ids=lambda p: p.stem)
def test_an_article_is_well_formed(path: Path) -> None:
    doc = load(path)
    meta = doc.metadata
    assert meta["id"] == path.stem
    assert meta["url"] == f"https://it.northwind.example/{path.stem}"
    assert meta["category"] in CATEGORIES
    assert doc.text.startswith(f"# {doc.title}\n")
    assert doc.text.count("\n## ") >= 2
    assert 150 <= len(doc.text.split()) <= 500
    assert re.search(r"\d", doc.text)


@pytest.mark.parametrize("path", ARTICLES, ids=lambda p: p.stem)
def test_an_article_never_speaks_of_the_shop(path: Path) -> None:
    text = path.read_text(encoding="utf-8").lower()
    assert [word for word in SHOP_WORDS if word in text] == []


def test_ids_titles_and_categories() -> None:
    titles = [d.title for d in documents()]
    assert len(titles) == len(set(titles))
    assert {d.metadata["category"] for d in documents()} == CATEGORIES


def test_every_quoted_article_title_exists() -> None:
    """Articles point to each other by title ('see "Password policy"')."""
    titles = {d.title for d in documents()}
    quoted = set().union(*found(r'[Ss]ee "([^"]+)"').values())
    assert quoted - titles == set()


def test_the_service_desk_is_reached_the_same_way_everywhere() -> None:
    extensions = found(r"extension (\d+)")
    assert len(extensions) >= 5
    assert set().union(*extensions.values()) == {"4357"}
    phones = found(r"\+44 20 7946 \d{4}")
    assert set().union(*phones.values()) == {"+44 20 7946 0357", "+44 20 7946 0999"}
    on_call = found(r"on-call line on (\+44 20 7946 \d{4})")
    assert len(on_call) >= 2
    assert set().union(*on_call.values()) == {"+44 20 7946 0999"}
    hours = found(r"Monday to Friday, (\d\d:\d\d to \d\d:\d\d) UK time")
    assert {"ticket-priorities-and-response-times", "after-hours-support"} <= hours.keys()
    assert set().union(*hours.values()) == {"08:00 to 18:00"}


def test_durations_stated_in_several_articles_agree() -> None:
    deadline = found(r"within (\d+) days of (?:your|their) first working day")
    assert {"mfa-enrolment", "onboarding-new-starters"} <= deadline.keys()
    assert set().union(*deadline.values()) == {"14"}
    sync = found(r"VPN can take up to (\d+) minutes")
    assert {"vpn-troubleshooting", "password-reset"} <= sync.keys()
    assert set().union(*sync.values()) == {"15"}
    links = found(r"(?:[Ee]xternal links|[Ll]inks to people outside Northwind) expire after (\d+)")
    assert {"data-classification", "usb-and-removable-media"} <= links.keys()
    assert set().union(*links.values()) == {"30"}
    length = found(r"(?m)(?:^- At least|the password policy \(at least) (\d+) characters")
    assert length == {"password-policy": {"14"}, "password-reset": {"14"}}
