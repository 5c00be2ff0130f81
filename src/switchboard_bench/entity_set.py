"""An entity-centric retrieval set built from the demo shop, in BEIR layout.

Each help-centre article becomes one short entry, as entity corpora are (names with a
one-line description): its title and the first sentence of its body. The queries are a
golden file's messages that expect a source, judged relevant to their expected articles.
On entries this short, a message shares few words with the right one and many with others,
which is where keyword search is weak and fusing it with dense search by plain RRF can
score below dense search alone::

    switchboard bench entity-set OUT [--golden FILE]
    switchboard bench retrieval --dataset OUT --chunk-sizes 64
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from switchboard.evaluation.golden import GoldenCase
from switchboard_bench.beir import BeirDataset, BeirDoc

_FRONT_MATTER = re.compile(r"\A---\n(?P<head>.*?)\n---\n", re.DOTALL)
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(?:\s|$)")


def article_entry(markdown: str) -> BeirDoc:
    """An article's title (front matter ``title``, else its first heading) and the first
    sentence of its first paragraph."""
    match = _FRONT_MATTER.match(markdown)
    head = match.group("head") if match else ""
    body = markdown[match.end() :] if match else markdown
    titles = [line[6:].strip() for line in head.splitlines() if line.startswith("title:")]
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    headings = [line.lstrip("#").strip() for line in lines if line.startswith("#")]
    paragraphs = [line for line in lines if not line.startswith(("#", "-", "|", ">"))]
    title = (titles or headings or [""])[0]
    first = paragraphs[0] if paragraphs else ""
    sentence = _FIRST_SENTENCE.match(first)
    return BeirDoc(title=title, text=sentence.group(1) if sentence else first)


def shop_entity_set(articles: Path, cases: Sequence[GoldenCase]) -> BeirDataset:
    """The articles under ``articles`` (``*.md``, id = file name) as entries; the cases that
    expect sources as queries (id = case id)."""
    corpus = {p.name: article_entry(p.read_text(encoding="utf-8")) for p in _articles(articles)}
    judged = [c for c in cases if set(c.expected_sources) & set(corpus)]
    if not judged:
        raise ValueError("no case expects one of the articles as its source")
    return BeirDataset(
        corpus=corpus,
        queries={c.id: c.message for c in judged},
        qrels={c.id: {s: 1 for s in c.expected_sources if s in corpus} for c in judged},
    )


def write_beir(dataset: BeirDataset, folder: Path) -> None:
    """``corpus.jsonl`` (text = title and description), ``queries.jsonl`` and
    ``qrels/test.tsv`` under ``folder``."""
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    corpus = [
        {"_id": doc_id, "title": doc.title, "text": entry_text(doc)}
        for doc_id, doc in dataset.corpus.items()
    ]
    _write_jsonl(folder / "corpus.jsonl", corpus)
    _write_jsonl(
        folder / "queries.jsonl", [{"_id": q, "text": t} for q, t in dataset.queries.items()]
    )
    rows = ["query-id\tcorpus-id\tscore"] + [
        f"{q}\t{d}\t{score}" for q, docs in dataset.qrels.items() for d, score in docs.items()
    ]
    (folder / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def entry_text(doc: BeirDoc) -> str:
    """The indexed text of an entry: its title as a sentence, then its description."""
    title = doc.title if not doc.title or doc.title[-1] in ".?!" else f"{doc.title}."
    return f"{title} {doc.text}".strip()


def _articles(folder: Path) -> list[Path]:
    paths = sorted(folder.glob("*.md"))
    if not paths:
        raise ValueError(f"no Markdown articles under {folder}")
    return paths


def _write_jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    lines = (json.dumps(row, ensure_ascii=False) for row in rows)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
