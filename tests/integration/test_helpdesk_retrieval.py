"""The IT helpdesk corpus ingested with the real embedding model into a fresh knowledge
base, and its golden questions searched with the configured retrieval (hybrid + re-rank):
the articles a good answer cites come up for the answerable questions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.config import Settings
from switchboard.demo import HELPDESK_COLLECTION, helpdesk_articles_dir, helpdesk_golden_path
from switchboard.evaluation.golden import GoldenCase, load_golden
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef

pytestmark = pytest.mark.integration

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
K = 5
MIN_HIT_RATE = 0.85
Helpdesk = tuple[KnowledgeBase, CollectionRef]


@pytest.fixture(scope="module")
def helpdesk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Helpdesk]:
    settings = Settings(data_dir=DATA_DIR)
    store = tmp_path_factory.mktemp("helpdesk") / "knowledge.sqlite3"
    kb = KnowledgeBase.open(settings.knowledge, str(store), settings.models_dir)
    try:
        ref = CollectionRef(settings.knowledge.default_tenant, HELPDESK_COLLECTION)
        files = kb.ingestor.list_files([helpdesk_articles_dir()])
        report = kb.ingestor.ingest_files(ref, files)
        assert report.failures == []
        yield kb, ref
    finally:
        kb.close()


def top_articles(kb: KnowledgeBase, ref: CollectionRef, question: str) -> list[str]:
    """The distinct articles among the first ``K`` hits, best first."""
    hits = kb.retriever.search(ref, kb.request(question, top_k=K)).hits
    return list(dict.fromkeys(hit.stored.chunk.document_id for hit in hits))


def hit_rate(kb: KnowledgeBase, ref: CollectionRef, cases: list[GoldenCase]) -> float:
    hits = [bool(set(c.expected_sources) & set(top_articles(kb, ref, c.message))) for c in cases]
    return sum(hits) / len(hits)


def test_every_article_is_ingested_under_its_file_name(
    helpdesk: Helpdesk,
) -> None:
    kb, ref = helpdesk
    names = {path.name for path in helpdesk_articles_dir().glob("*.md")}
    assert set(kb.store.document_hashes(ref)) == names
    assert top_articles(kb, ref, "How do I reset my password?")[0] == "password-reset.md"


def test_an_expected_article_is_in_the_top_5_for_most_answerable_questions(
    helpdesk: Helpdesk,
) -> None:
    kb, ref = helpdesk
    answerable = [c for c in load_golden(helpdesk_golden_path()) if c.expected_sources]
    rates = {
        split: hit_rate(kb, ref, [c for c in answerable if c.split == split])
        for split in ("dev", "test")
    }
    overall = hit_rate(kb, ref, answerable)
    print(f"helpdesk hit@{K}: dev {rates['dev']:.3f}, test {rates['test']:.3f}, all {overall:.3f}")
    assert overall >= MIN_HIT_RATE, rates
