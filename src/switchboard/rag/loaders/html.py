"""HTML to Markdown-ish text with the boilerplate stripped.

Parsed with BeautifulSoup over lxml (lenient like a browser, fast, typed). Dropped: script,
style, nav, header (outside article/main), footer, aside, form, noscript, iframes,
controls, hidden elements and landmark roles such as ``navigation`` or ``banner``. If the
page has a ``<main>`` (or exactly one ``<article>``) only that is kept. Headings become
``#`` lines so the chunker sees the structure; paragraphs are separated by blank lines;
list items (``- x``, ``1. x``) and table rows (``| a | b |``) sit on consecutive lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup, NavigableString, PageElement, ParserRejectedMarkup, Tag
from bs4.element import PreformattedString

from switchboard.rag.loaders.base import Extracted, FailureKind, LoadError
from switchboard.rag.loaders.text import decode_text

_DROP = frozenset((
    "script", "style", "noscript", "template", "nav", "footer", "aside", "form",
    "iframe", "svg", "canvas", "button", "select", "input", "textarea", "object", "embed",
    "dialog", "menu", "head",
))  # fmt: skip
_DROP_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "dialog"}
)
_BLOCKS = frozenset(
    {
        "address", "article", "blockquote", "body", "caption", "dd", "details", "div", "dl",
        "dt", "fieldset", "figcaption", "figure", "header", "hr", "html", "main", "p",
        "section", "summary",
    }
)  # fmt: skip
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def extract_html(raw: bytes, path: Path) -> Extracted:
    try:
        soup = BeautifulSoup(decode_text(raw, declared=_declared_charset(raw)), "lxml")
    except ParserRejectedMarkup as exc:
        raise LoadError(FailureKind.CORRUPT, f"unparsable HTML: {exc}") from exc
    title = _title(soup)
    metadata = {"format": "html", **_page_metadata(soup)}
    _strip_boilerplate(soup)
    try:
        text = _Renderer().render(_content_root(soup))
    except RecursionError:
        raise LoadError(FailureKind.CORRUPT, "HTML nested too deeply") from None
    return Extracted(text, title or path.stem, metadata)


def _declared_charset(raw: bytes) -> str | None:
    match = _CHARSET.search(raw[:4096])
    return match[1].decode("ascii") if match else None


def _collapse(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _title(soup: BeautifulSoup) -> str:
    for tag in (soup.title, soup.find("h1")):
        if tag is not None and (text := _collapse(tag.get_text(" "))):
            return text
    return ""


def _page_metadata(soup: BeautifulSoup) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if soup.html is not None and isinstance(lang := soup.html.get("lang"), str):
        found["lang"] = lang
    description = soup.find("meta", attrs={"name": "description"})
    if isinstance(description, Tag) and isinstance(content := description.get("content"), str):
        found["description"] = _collapse(content)
    return found


def _strip_boilerplate(soup: BeautifulSoup) -> None:
    for tag in soup.find_all(_is_boilerplate):
        if not tag.decomposed:
            tag.decompose()


def _is_boilerplate(tag: Tag) -> bool:
    return (
        tag.name in _DROP
        or (tag.name == "header" and tag.find_parent(("article", "main")) is None)
        or (isinstance(role := tag.get("role"), str) and role in _DROP_ROLES)
        or tag.has_attr("hidden")
        or tag.get("aria-hidden") == "true"
    )


def _content_root(soup: BeautifulSoup) -> Tag:
    main = soup.find("main")
    articles = soup.find_all("article")
    for candidate in (main, articles[0] if len(articles) == 1 else None, soup.body):
        if isinstance(candidate, Tag):
            return candidate
    return soup


class _Renderer:
    """Walks the tree once, emitting blocks; ``group`` ties list items and table rows."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, int | None]] = []
        self.inline: list[str] = []
        self.prefix = ""  # the marker of the list item whose first block is pending
        self.group: int | None = None
        self.depth = 0

    def render(self, root: Tag) -> str:
        self._children(root)
        self._flush()
        parts: list[str] = []
        previous: int | None = None
        for text, group in self.blocks:
            if parts:
                parts.append("\n" if group is not None and group == previous else "\n\n")
            parts.append(text)
            previous = group
        return "".join(parts)

    def _children(self, tag: Tag) -> None:
        for child in tag.children:
            self._node(child)

    def _node(self, node: PageElement) -> None:
        if isinstance(node, Tag):
            handler = _HANDLERS.get(node.name)
            if handler is not None:
                handler(self, node)
            elif node.name in _BLOCKS:
                self._block(node)
            else:
                self._children(node)
        elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString):
            self.inline.append(_SPACES.sub(" ", str(node)))

    def _add(self, text: str, group: int | None = None) -> None:
        self.blocks.append((self.prefix + text, self.group if group is None else group))
        self.prefix = ""

    def _flush(self) -> None:
        lines = (_collapse(line) for line in "".join(self.inline).split("\n"))
        text = "\n".join(line for line in lines if line)
        self.inline.clear()
        if text:
            self._add(text)

    def _block(self, tag: Tag) -> None:
        self._flush()
        self._children(tag)
        self._flush()

    def _heading(self, tag: Tag) -> None:
        self._flush()
        if text := _collapse(tag.get_text(" ")):
            self._add("#" * int(tag.name[1]) + " " + text)

    def _br(self, tag: Tag) -> None:
        self.inline.append("\n")

    def _pre(self, tag: Tag) -> None:
        self._flush()
        if text := tag.get_text().strip("\n"):
            self._add(text)

    def _list(self, tag: Tag) -> None:
        self._flush()
        outer = self.group is None
        if outer:
            self.group = id(tag)
        self.depth += 1
        number = 0
        for child in tag.children:
            if isinstance(child, Tag) and child.name == "li":
                number += 1
                self._item(child, f"{number}. " if tag.name == "ol" else "- ")
            else:
                self._node(child)
        self._flush()
        self.depth -= 1
        if outer:
            self.group = None

    def _item(self, tag: Tag, marker: str = "- ") -> None:
        self._flush()
        self.prefix = "  " * max(self.depth - 1, 0) + marker
        self._children(tag)
        self._flush()

    def _table(self, tag: Tag) -> None:
        self._flush()
        if tag.caption is not None and (caption := _collapse(tag.caption.get_text(" "))):
            self._add(caption)
        for row in tag.find_all("tr"):
            cells = [_collapse(c.get_text(" ")) for c in row.find_all(("th", "td"))]
            if any(cells):
                self._add("| " + " | ".join(cells) + " |", group=id(tag))


_HANDLERS: dict[str, Callable[[_Renderer, Tag], None]] = {
    **{f"h{level}": _Renderer._heading for level in range(1, 7)},
    "br": _Renderer._br,
    "pre": _Renderer._pre,
    "ul": _Renderer._list,
    "ol": _Renderer._list,
    "li": _Renderer._item,
    "table": _Renderer._table,
}
