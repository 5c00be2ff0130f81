"""An assistant over a user's own documents, as a new user makes one: three commands on the
command line (``ingest``, ``assistants new``, then ``ask`` and ``assistants check``), and the
same assistant served through the OpenAI API (``model: "assistant:<name>"``), streamed by
the ``openai`` client, with the real default model and embedder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import NotFoundError, OpenAI
from typer.testing import CliRunner

from switchboard.api import create_app
from switchboard.assistant.definition import load_definition
from switchboard.assistant.local_model import LocalChatModel
from switchboard.assistant.service import open_assistants
from switchboard.cli import app
from switchboard.config import Settings
from switchboard.engine.local import LocalEngine
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef
from switchboard_bench.uvicorn_thread import serve
from tests.integration.shop_rig import shop_settings

pytestmark = pytest.mark.integration

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
DOCS = {
    "watering.md": "# Watering the plots\n\nVolunteers water every plot on Tuesday and Friday "
    "mornings between 7 and 9. In July and August plots are also watered on Sunday "
    "evenings. The water tank holds 2,000 litres.\n",
    "membership.md": "# Membership of the allotment club\n\nA yearly membership costs 45 "
    "euros and includes one plot of 20 square metres. Members over 65 and students pay 25 "
    "euros. The waiting list for a plot is about eight months.\n",
    "tools.md": "# Borrowing tools\n\nThe tool shed opens on Saturdays from 10 to 14. "
    "Members may borrow a tool for up to three days; the club secretary, Marta Kovac, keeps "
    "the key to the shed.\n",
}
QUESTION = "How much does a yearly membership cost?"


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("garden-docs")
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """The command line over the repository's models and a knowledge base, conversations
    and definitions of its own."""
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("SWITCHBOARD_KNOWLEDGE__STORE", str(tmp_path / "kb.sqlite3"))
    monkeypatch.setenv("SWITCHBOARD_ASSISTANT__DEFINITIONS_DIR", str(tmp_path / "assistants"))
    monkeypatch.setenv("SWITCHBOARD_ASSISTANT__DB_PATH", str(tmp_path / "assistant.sqlite3"))
    monkeypatch.setenv("SWITCHBOARD_CACHE__ENABLED", "false")
    return CliRunner()


def test_three_commands_make_a_cited_assistant_over_your_documents(
    cli: CliRunner, docs: Path, tmp_path: Path
) -> None:
    ingested = cli.invoke(app, ["ingest", str(docs), "--collection", "garden"])
    assert ingested.exit_code == 0, ingested.output
    made = cli.invoke(app, ["assistants", "new", "garden", "--collection", "garden"])
    assert made.exit_code == 0, made.output
    assert made.stdout.strip().splitlines()[-1] == str(tmp_path / "assistants" / "garden.toml")
    again = cli.invoke(app, ["assistants", "new", "garden", "--collection", "garden"])
    assert again.exit_code == 1
    assert "exists" in again.output

    asked = cli.invoke(app, ["ask", QUESTION, "--assistant", "garden", "--json"])
    assert asked.exit_code == 0, asked.output
    answer = json.loads(asked.stdout)
    assert "45 euros" in answer["answer"]
    assert [c["article_id"] for c in answer["citations"]] >= ["membership.md"]
    assert answer["answer_path"] in ("quoted", "generated", "generated+repaired")

    unknown = cli.invoke(app, ["ask", "Who painted the Mona Lisa?", "--assistant", "garden",
                               "--json"])  # fmt: skip
    assert unknown.exit_code == 0, unknown.output
    declined = json.loads(unknown.stdout)
    assert (declined["answer_path"], declined["citations"]) == ("not_sure", [])

    checked = cli.invoke(app, ["assistants", "check", "garden"])
    assert checked.exit_code == 0, checked.output
    assert "3 documents" in checked.output

    path = tmp_path / "assistants" / "garden.toml"
    path.write_text(
        path.read_text() + '\n[[smoke]]\nquestion = "When is the tool shed open?"\n'
        'must_include = ["Sundays"]\n',
        encoding="utf-8",
    )
    failing = cli.invoke(app, ["assistants", "check", "garden"])
    assert failing.exit_code == 1
    assert "lacks ['Sundays']" in failing.output


def test_an_assistant_of_customers_needs_one_on_the_command_line(cli: CliRunner) -> None:
    result = cli.invoke(app, ["ask", "Where is my order?", "--assistant", "shop"])
    assert result.exit_code == 1
    assert "acts for a customer" in result.output


@pytest.fixture(scope="module")
def base_url(
    docs: Path, default_model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    data = tmp_path_factory.mktemp("garden-served")
    settings = shop_settings(data)
    definitions = data / "assistants"
    definitions.mkdir()
    from switchboard.assistant.starter import starter

    (definitions / "garden.toml").write_text(starter("garden", "garden"), encoding="utf-8")
    definition = load_definition(definitions / "garden.toml")
    knowledge = KnowledgeBase.open(
        settings.knowledge, settings.knowledge_store, Settings().models_dir
    )
    engine = LocalEngine(settings.model, default_model_path, settings.engine)
    try:
        ref = CollectionRef(settings.knowledge.default_tenant, "garden")
        files = knowledge.ingestor.list_files([docs])
        assert not knowledge.ingestor.ingest_files(ref, files).failures
        assistants = open_assistants(
            settings, LocalChatModel(engine), knowledge, definitions={"garden": definition}
        )
        with serve(create_app(engine, settings, knowledge=knowledge, assistants=assistants)) as url:
            yield url
    finally:
        engine.close()
        knowledge.close()


def test_the_openai_client_streams_an_assistant_with_its_citations(base_url: str) -> None:
    client = OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="assistant:garden",
        messages=[
            {"role": "user", "content": "Hello, I'd like to join the allotment club."},
            {"role": "assistant", "content": "Welcome! How can I help?"},
            {"role": "user", "content": QUESTION},
        ],
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "45 euros" in text
    last = chunks[-1].model_dump()
    assert last["choices"][0]["finish_reason"] == "stop"
    assert [c["article_id"] for c in last["citations"]][:1] == ["membership.md"]
    assert last["switchboard"]["answer_path"] in ("quoted", "generated", "generated+repaired")
    assert {c.model for c in chunks} == {"assistant:garden"}

    whole = client.chat.completions.create(
        model="assistant:garden", messages=[{"role": "user", "content": QUESTION}]
    )
    assert "45 euros" in (whole.choices[0].message.content or "")
    assert whole.model_dump()["citations"][0]["article_id"] == "membership.md"


def test_an_unknown_assistant_is_the_models_404(base_url: str) -> None:
    client = OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)
    with pytest.raises(NotFoundError) as error:
        client.chat.completions.create(
            model="assistant:nobody", messages=[{"role": "user", "content": QUESTION}]
        )
    assert error.value.code == "assistant_not_found"
    assert error.value.param == "model"
    assert "served: garden" in str(error.value)
