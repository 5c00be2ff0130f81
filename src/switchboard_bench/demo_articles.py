"""The demo shop's help-centre articles as prompt sources, for the engine benchmarks."""

from __future__ import annotations

from pathlib import Path

from switchboard.assistant.prompt_budget import SourceChunk
from switchboard.demo import shop_articles_dir
from switchboard.rag.loaders.markdown import split_front_matter


def demo_article(name: str) -> SourceChunk:
    """The article ``name`` (a file of the demo's articles) whole, its body as written."""
    path: Path = shop_articles_dir() / name
    fields, body = split_front_matter(path.read_text(encoding="utf-8"))
    return SourceChunk(
        article_id=str(fields.get("id", path.stem)),
        title=str(fields.get("title", path.stem)),
        url=str(fields.get("url", "")),
        text=body,
    )
