"""An assistant over several collections: declared with ``collections = [...]``, searched
together into one ranked list (each collection's own order kept, the collections merged
by the dense score the relevance floor reads), each hit knowing its collection, and a
knowledge version that changes when any of them changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.assistant.citations import citation_event
from switchboard.assistant.definition import DefinitionError, load_definition
from switchboard.assistant.evidence import candidates_of, source_chunk
from switchboard.assistant.prompt_budget import citations_of
from switchboard.assistant.starter import starter
from switchboard.assistant.turn import KnowledgeSearcher, merged_hits
from switchboard.cli import app
from switchboard.config import KnowledgeSettings
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.store.sqlite import SQLiteStore
from switchboard.rag.types import CollectionRef, Document
from tests.unit.assistant_rig import hit
from tests.unit.fakes import HashingEmbedder

pytestmark = pytest.mark.unit

PLOTS = CollectionRef("default", "plots")
SHED = CollectionRef("default", "shed")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "garden.toml"
    path.write_text(text)
    return path


def test_a_definition_may_name_several_collections(tmp_path: Path) -> None:
    definition = load_definition(write(tmp_path, starter("garden", ["plots", "shed"])))
    assert definition.collection_names == ("plots", "shed")
    single = load_definition(write(tmp_path, starter("garden", "plots")))
    assert single.collection_names == ("plots",)
    assert single.collection == "plots"
    assert load_definition(write(tmp_path, starter("garden", ["plots"]))).collection == "plots"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('collection = "plots"\ncollections = ["shed"]', "give collection or collections"),
        ("", "needs a collection or collections"),
        ('collections = ["plots", "plots"]', "collections named twice: ['plots']"),
        ("collections = []", "needs a collection or collections"),
    ],
)
def test_collections_are_exactly_one_of_the_two(tmp_path: Path, line: str, problem: str) -> None:
    text = starter("garden", "plots").replace('collection = "plots"', line)
    with pytest.raises(DefinitionError) as caught:
        load_definition(write(tmp_path, text))
    assert str(caught.value).startswith(f"{tmp_path / 'garden.toml'}: ")
    assert problem in str(caught.value)


def test_hits_are_merged_by_dense_score_keeping_each_collections_order() -> None:
    plots = [hit("a1", "A1", "a one", 0.9), hit("a2", "A2", "a two", 0.3)]
    shed = [hit("b1", "B1", "b one", 0.5), hit("b2", "B2", "b two", 0.8)]  # re-ranked order
    merged = merged_hits([plots, shed], top_k=3)
    assert [h.stored.chunk.document_id for h in merged] == ["a1", "b1", "b2"]
    assert merged_hits([plots], top_k=5) == plots
    tie = [hit("c1", "C1", "c", 0.9)]
    assert [h.stored.chunk.document_id for h in merged_hits([tie, plots], 2)] == ["c1", "a1"]


def documents(texts: dict[str, str]) -> list[Document]:
    return [
        Document(id=doc_id, title=doc_id, source=f"{doc_id}.md", text=text,
                 content_hash=text, metadata={"url": f"/{doc_id}"})
        for doc_id, text in texts.items()
    ]  # fmt: skip


@pytest.fixture
def kb(tmp_path: Path) -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase.assemble(
        KnowledgeSettings(), SQLiteStore(tmp_path / "kb.sqlite3"), HashingEmbedder()
    )
    kb.ingestor.ingest_documents(PLOTS, documents({
        "membership": "A yearly membership of the allotment club costs 45 euros.",
        "watering": "Volunteers water every plot on Tuesday and Friday mornings.",
        "faq": "Plots are twenty square metres each.",
    }))  # fmt: skip
    kb.ingestor.ingest_documents(SHED, documents({
        "tools": "The tool shed opens on Saturdays from 10 to 14.",
        "faq": "The tool shed key is kept by the club secretary.",
    }))  # fmt: skip
    yield kb
    kb.close()


def test_one_search_ranks_the_hits_of_every_collection(kb: KnowledgeBase) -> None:
    searcher = KnowledgeSearcher(kb, [PLOTS, SHED], top_k=4)
    hits = searcher.search("membership costs euros tool shed opens Saturdays")
    found = {(h.collection, h.stored.chunk.document_id) for h in hits}
    assert {("plots", "membership"), ("shed", "tools")} <= found
    assert len(hits) == 4
    assert {h.stored.metadata["url"] for h in hits} >= {"/membership", "/tools"}


def test_the_window_reads_each_hit_from_its_own_collection(kb: KnowledgeBase) -> None:
    """Both collections hold a document ``faq``: each hit's text is its own collection's."""
    searcher = KnowledgeSearcher(kb, [PLOTS, SHED], top_k=5)
    hits = [
        h
        for h in searcher.search("faq key plots square metres shed")
        if h.stored.chunk.document_id == "faq"
    ]
    assert {h.collection for h in hits} == {"plots", "shed"}
    window = searcher.window(hits, width=1)
    texts = {(h.collection, h.stored.chunk.text) for h in window}
    assert texts == {
        ("plots", "Plots are twenty square metres each."),
        ("shed", "The tool shed key is kept by the club secretary."),
    }


def test_the_version_changes_when_any_collection_changes(kb: KnowledgeBase) -> None:
    searcher = KnowledgeSearcher(kb, [PLOTS, SHED], top_k=4)
    before = searcher.version()
    assert before == searcher.version()
    kb.ingestor.ingest_documents(SHED, documents({"hours": "The shed is closed in winter."}))
    after_shed = searcher.version()
    assert after_shed != before
    kb.ingestor.ingest_documents(PLOTS, documents({"fees": "Students pay 25 euros."}))
    assert searcher.version() not in (before, after_shed)
    assert KnowledgeSearcher(kb, [PLOTS], top_k=4).version() == kb.version(PLOTS)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("SWITCHBOARD_ASSISTANT__DEFINITIONS_DIR", str(tmp_path / "assistants"))
    return CliRunner()


def test_new_takes_the_collection_option_more_than_once(cli: CliRunner, tmp_path: Path) -> None:
    made = cli.invoke(
        app, ["assistants", "new", "garden", "--collection", "plots", "--collection", "shed"]
    )
    assert made.exit_code == 0, made.output
    path = tmp_path / "assistants" / "garden.toml"
    assert made.stdout.strip().splitlines()[-1] == str(path)
    assert load_definition(path).collection_names == ("plots", "shed")

    shown = cli.invoke(app, ["assistants", "show", "garden"])
    assert shown.exit_code == 0, shown.output
    assert "collections: plots, shed" in shown.output
    listed = cli.invoke(app, ["assistants", "list", "--json"])
    row = next(r for r in json.loads(listed.stdout) if r["name"] == "garden")
    assert row["collections"] == ["plots", "shed"]


def test_sources_and_citations_keep_their_collection() -> None:
    """Two collections may hold an article of the same id: both stay sources, each cited
    with its own collection."""
    text = "Every plot and the tool shed are insured against storm damage."
    plots = replace(hit("faq", "FAQ", text, 0.9), collection="plots")
    shed = replace(hit("faq", "FAQ", text, 0.8), collection="shed")
    assert [c.source.collection for c in candidates_of([plots, shed])] == ["plots", "shed"]
    citations = citations_of([source_chunk(plots), source_chunk(shed)])
    assert [c.collection for c in citations] == ["plots", "shed"]
    assert citation_event(citations[1]).collection == "shed"


def test_a_hit_naming_no_collection_is_read_from_the_first(kb: KnowledgeBase) -> None:
    """Hits from elsewhere (a fake, an older cache) name no collection: one searcher's window
    still reads their neighbours, from its first collection, as before collections."""
    searcher = KnowledgeSearcher(kb, PLOTS, top_k=2)
    hits = [replace(h, collection="") for h in searcher.search("membership euros")]
    assert [h.collection for h in searcher.window(hits, width=1)] == ["plots"] * len(hits)
