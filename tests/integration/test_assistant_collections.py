"""An assistant over two collections, with the real embedder and default model: its
questions are answered from either collection, citing an article of each with that
article's collection and URL, and an article id both collections hold is read from the
right one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from switchboard.assistant.definition import load_definition
from switchboard.assistant.local_model import LocalChatModel
from switchboard.assistant.orchestrator import TurnRequest
from switchboard.assistant.service import open_assistants
from switchboard.assistant.starter import starter
from switchboard.assistant.transcript import Transcript
from switchboard.config import Settings
from switchboard.engine.local import LocalEngine
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef, Document
from tests.integration.shop_rig import shop_settings

pytestmark = pytest.mark.integration

PLOTS = {
    "membership": "A yearly membership of the allotment club costs 45 euros and includes one "
    "plot of 20 square metres. Students pay 25 euros.",
    "watering": "Volunteers water every plot on Tuesday and Friday mornings between 7 and 9.",
    "faq": "Every plot comes with a compost bin and a rain barrel.",
}
SHED = {
    "opening-hours": "The tool shed opens on Saturdays from 10 to 14. It is closed in January.",
    "borrowing": "Members may borrow a tool for up to three days.",
    "faq": "The key to the tool shed is kept by the club secretary, Marta Kovac.",
}
QUESTIONS = (
    "How much does a yearly membership cost?",
    "When does the tool shed open?",
    "Who keeps the key to the tool shed?",
)


def documents(collection: str, texts: dict[str, str]) -> list[Document]:
    return [
        Document(id=f"{doc_id}.md", title=doc_id.replace("-", " ").capitalize(),
                 source=f"{doc_id}.md", text=text, content_hash=text,
                 metadata={"url": f"https://{collection}.example.org/{doc_id}"})
        for doc_id, text in texts.items()
    ]  # fmt: skip


def test_answers_cite_the_articles_of_both_collections(
    tmp_path: Path, default_model_path: Path
) -> None:
    settings = shop_settings(tmp_path)
    path = tmp_path / "garden.toml"
    path.write_text(starter("garden", ["plots", "shed"]), encoding="utf-8")
    definition = load_definition(path)
    knowledge = KnowledgeBase.open(
        settings.knowledge, settings.knowledge_store, Settings().models_dir
    )
    engine = LocalEngine(settings.model, default_model_path, settings.engine)
    tenant = settings.knowledge.default_tenant
    try:
        for name, texts in (("plots", PLOTS), ("shed", SHED)):
            ref = CollectionRef(tenant, name)
            assert not knowledge.ingestor.ingest_documents(ref, documents(name, texts)).failures

        async def ask() -> list[Transcript]:
            assistants = open_assistants(
                settings, LocalChatModel(engine), knowledge, definitions={"garden": definition}
            )
            transcripts = []
            try:
                for question in QUESTIONS:
                    transcript = Transcript()
                    turn = assistants.get("garden").orchestrator.turn(TurnRequest("cli", question))
                    async for event in turn:
                        transcript.see(event)
                    transcripts.append(transcript)
            finally:
                await assistants.aclose()
            return transcripts

        membership, hours, key = asyncio.run(ask())
    finally:
        engine.close()
        knowledge.close()
    for transcript, fact, collection, url in (
        (membership, "45 euros", "plots", "https://plots.example.org/membership"),
        (hours, "Saturdays from 10 to 14", "shed", "https://shed.example.org/opening-hours"),
        (key, "Marta Kovac", "shed", "https://shed.example.org/faq"),
    ):
        assert fact in transcript.answer
        cited = {(c["collection"], c["url"]) for c in transcript.citations_json()}
        assert (collection, url) in cited, transcript.answer
