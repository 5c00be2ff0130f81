"""The demo shop: a knowledge base of help-centre articles for Larkspur Outfitters, an
invented outdoor-gear shop that ships from Kiel, Germany, to the EU, UK, CH and US.

    shop_articles_dir()   the folder of Markdown articles (package data)
    golden_set_path()     the assistant's golden evaluation set (JSONL, package data)
    option_words_path()   the named options (carriers, payment methods) answers are checked on
    shop_words_path()     the shop's places, products, brands and audiences (the cache's guard)
    shop_tools_path()     the Order API as HTTP tools (TOML, ``switchboard.tools``)
    DEMO_COLLECTION       the collection ``switchboard demo load`` ingests them into
    assistants_dir()      the demo's assistant definitions: the shop's and the helpdesk's
    demo_corpus(name)     a demo assistant's articles folder and golden set

A second corpus, not the shop's: the internal IT helpdesk of Northwind Analytics, an
invented data-analytics company with offices in London, Manchester and Rotterdam.

    helpdesk_articles_dir()   its Markdown articles (package data)
    helpdesk_golden_path()    its golden set (JSONL, the schema of ``golden.jsonl``)
    HELPDESK_COLLECTION       the collection an assistant over it searches
"""

from __future__ import annotations

from pathlib import Path

DEMO_COLLECTION = "shop"
HELPDESK_COLLECTION = "helpdesk"


def shop_articles_dir() -> Path:
    """The folder holding the shop's articles, one Markdown file per topic."""
    return Path(__file__).parent / "shop"


def assistants_dir() -> Path:
    """The demo's assistant definitions (TOML): ``shop.toml`` and ``helpdesk.toml``."""
    return Path(__file__).parent / "assistants"


def golden_set_path() -> Path:
    """The golden set of support conversations that ``switchboard eval`` runs."""
    return Path(__file__).parent / "golden.jsonl"


def option_words_path() -> Path:
    """Carriers and payment methods the grounding check makes answers find in their
    sources (one per line, aliases separated by ``|``)."""
    return Path(__file__).parent / "option_words.txt"


def shop_words_path() -> Path:
    """The shop's places, products, brands, audiences and own name, which the response
    cache's false-hit guard reads (TOML, ``switchboard.cache.shop_words``)."""
    return Path(__file__).parent / "shop_words.toml"


def helpdesk_articles_dir() -> Path:
    """The folder holding the IT helpdesk's articles, one Markdown file per topic."""
    return Path(__file__).parent / "helpdesk"


def demo_corpus(assistant: str) -> tuple[Path, Path] | None:
    """The articles folder and golden set of a demo assistant (``shop``, ``helpdesk``)."""
    corpora = {
        "shop": (shop_articles_dir, golden_set_path),
        "helpdesk": (helpdesk_articles_dir, helpdesk_golden_path),
    }
    found = corpora.get(assistant)
    return (found[0](), found[1]()) if found is not None else None


def helpdesk_golden_path() -> Path:
    """The IT helpdesk's golden set: answerable questions with their articles and facts,
    questions its articles do not cover, and off-topic messages."""
    return Path(__file__).parent / "helpdesk_golden.jsonl"


def shop_tools_path() -> Path:
    """The Order API's operations as tool declarations: ``get_order``, ``list_orders`` and
    the write ``cancel_order``, each for the verified customer (``end_user``)."""
    return Path(__file__).parent / "shop_tools.toml"


__all__ = [
    "DEMO_COLLECTION",
    "HELPDESK_COLLECTION",
    "assistants_dir",
    "demo_corpus",
    "golden_set_path",
    "helpdesk_articles_dir",
    "helpdesk_golden_path",
    "option_words_path",
    "shop_articles_dir",
    "shop_tools_path",
    "shop_words_path",
]
