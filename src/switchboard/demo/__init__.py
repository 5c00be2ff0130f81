"""The demo shop: a knowledge base of help-centre articles for Larkspur Outfitters, an
invented outdoor-gear shop that ships from Kiel, Germany, to the EU, UK, CH and US.

    shop_articles_dir()   the folder of Markdown articles (package data)
    DEMO_COLLECTION       the collection ``switchboard demo load`` ingests them into
"""

from __future__ import annotations

from pathlib import Path

DEMO_COLLECTION = "shop"


def shop_articles_dir() -> Path:
    """The folder holding the shop's articles, one Markdown file per topic."""
    return Path(__file__).parent / "shop"


__all__ = ["DEMO_COLLECTION", "shop_articles_dir"]
