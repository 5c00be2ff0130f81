"""``switchboard assistants list|show|check|new`` and ``switchboard ask``: assistant
definitions from the command line.

``new`` writes a working definition over a collection into ``assistant.definitions_dir``;
``check`` runs a definition's smoke questions through the real pipeline (the local model,
the knowledge base, the Order API for an assistant that looks orders up) and exits
non-zero when one fails; ``ask`` answers one question with its sources.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

import typer
from rich.table import Table

from switchboard.assistant.definition import AssistantDefinition
from switchboard.assistant.definition_parts import Smoke
from switchboard.assistant.starter import starter
from switchboard.assistant.transcript import Transcript
from switchboard.cli.common import (
    app,
    command_group,
    console,
    draft_model_path,
    load_settings,
    model_path,
    one_line_errors,
)
from switchboard.config import Settings

assistants_app = command_group("Assistant definitions: list, show, check, start one.")
app.add_typer(assistants_app, name="assistants")

NameArg = Annotated[str, typer.Argument(help="The assistant's name.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ANSWERED = frozenset({"generated", "generated+repaired", "quoted"})


def _definitions(settings: Settings) -> dict[str, AssistantDefinition]:
    from switchboard.assistant.service import served_definitions

    return served_definitions(settings)


def _definition(settings: Settings, name: str) -> AssistantDefinition:
    definitions = _definitions(settings)
    if name not in definitions:
        served = ", ".join(definitions) or "none"
        raise ValueError(f"no assistant {name!r} (served: {served})")
    return definitions[name]


@assistants_app.command("list")
@one_line_errors
def list_assistants(as_json: JsonOpt = False) -> None:
    """The assistants the server would serve: the demo's and those in definitions_dir."""
    from switchboard.assistant.service import default_name

    settings = load_settings()
    definitions = _definitions(settings)
    default = default_name(settings, list(definitions)) if definitions else None
    rows = [
        {
            "name": d.name,
            "title": d.title,
            "collection": d.collection_names[0],
            "collections": list(d.collection_names),
            "end_user": d.end_user,
            "intents": len(d.intents),
            "smoke": len(d.smoke),
            "default": d.name == default,
        }
        for d in definitions.values()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("name", "title", "collections", "end user", "intents", "smoke questions")
    for d, row in zip(definitions.values(), rows, strict=True):
        name = f"{row['name']} (default)" if row["default"] else str(row["name"])
        table.add_row(name, str(row["title"]), ", ".join(d.collection_names), str(row["end_user"]),
                      str(row["intents"]), str(row["smoke"]))  # fmt: skip
    console.print(table)


@assistants_app.command("show")
@one_line_errors
def show(name: NameArg, as_json: JsonOpt = False) -> None:
    """One definition as loaded, with the settings it runs with (overrides applied)."""
    settings = load_settings()
    definition = _definition(settings, name)
    effective = definition.settings(settings.assistant)
    if as_json:
        typer.echo(json.dumps(definition.model_dump(mode="json"), indent=2))
        return
    console.print(f"[bold]{definition.name}[/bold]: {definition.title}", highlight=False)
    if definition.description:
        console.print(definition.description, highlight=False)
    names = definition.collection_names
    facts = {
        "collection" if len(names) == 1 else "collections": ", ".join(names),
        "end user": definition.end_user,
        "answers": f"{effective.answer_mode} (top {effective.top_k}, floor "
        f"{effective.relevance_floor})",
        "intents": ", ".join(f"{i.name} ({i.action}, {len(i.examples)} examples)"
                             for i in definition.intents) or "none: every message is a question",
        "handoff": "yes" if definition.handoff else "no",
        "guard / cache": f"{definition.guard} / {definition.cache}",
        "model route": effective.model_route or "the served model",
        "smoke questions": str(len(definition.smoke)),
    }  # fmt: skip
    for key, value in facts.items():
        console.print(f"  {key}: {value}", highlight=False)


@assistants_app.command("new")
@one_line_errors
def new(
    name: NameArg,
    collection: Annotated[
        list[str],
        typer.Option(help="The collection it answers from (more than once: searched together)."),
    ],
    title: Annotated[str | None, typer.Option(help="Its title (default: from the name).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a working definition over COLLECTION (one or more) to
    <definitions_dir>/NAME.toml; its path is the last line of the output."""
    settings = load_settings()
    path = settings.assistants_dir / f"{name}.toml"
    text = starter(name, collection, title)
    if path.exists() and not force:
        raise ValueError(f"{path} exists (--force to overwrite it)")
    if not path.exists() and name in _definitions(settings):
        raise ValueError(f"an assistant named {name!r} is already served")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    from switchboard.assistant.definition import load_definition

    load_definition(path)  # what it wrote loads
    console.print(f"check it with: switchboard assistants check {name}", highlight=False)
    typer.echo(str(path))


@app.command("ask")
@one_line_errors
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    assistant: Annotated[
        str | None, typer.Option(help="The assistant (default: the default).")
    ] = None,
    customer: Annotated[
        str | None, typer.Option(help="The customer it acts for (assistants of customers).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """One grounded answer with its sources, from the local model and knowledge base."""
    from switchboard.assistant.service import default_name

    settings = load_settings()
    name = assistant or default_name(settings, list(_definitions(settings)))
    definition = _definition(settings, name)
    _needs_customer(definition, customer)
    with _local(settings, definition, os.environ) as local:
        answer = local.ask(question, customer)
    if as_json:
        typer.echo(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
        return
    console.print(answer.answer, highlight=False)
    for citation in answer.citations:
        console.print(f"  [{citation.number}] {citation.title} ({citation.url})",
                      highlight=False, markup=False)  # fmt: skip


@assistants_app.command("check")
@one_line_errors
def check(name: NameArg, customer: Annotated[str | None, typer.Option(
        help="The customer its smoke questions act for (assistants of customers).")] = None,
) -> None:  # fmt: skip
    """Its collection holds documents and each smoke question gets what it expects (an
    answer with citations and its facts, or "not sure"); exits 1 when something fails."""
    settings = load_settings()
    definition = _definition(settings, name)
    if definition.smoke:
        _needs_customer(definition, customer)
    problems = []
    with _local(settings, definition, os.environ) as local:
        documents = local.documents()
        problems += [f"collection {c!r} holds no documents" for c, n in documents.items() if not n]
        table = Table("question", "expects", "got", "result")
        for smoke in definition.smoke:
            answer = local.ask(smoke.question, customer)
            verdict = judge(smoke, answer)
            if verdict:
                problems.append(f"{smoke.question!r}: {verdict}")
            table.add_row(smoke.question, smoke.expect, answer.path, verdict or "ok")
    for collection, count in documents.items():
        console.print(f"collection {collection}: {count} documents", highlight=False)
    if definition.smoke:
        console.print(table)
    else:
        console.print("no smoke questions: add [[smoke]] entries to check answers", markup=False)
    if problems:
        raise ValueError(f"{len(problems)} problem(s): {'; '.join(problems)}")
    typer.echo(f"{name}: ok")


class Answer(Transcript):
    """One turn's transcript, as ``ask`` prints it."""

    @property
    def path(self) -> str:
        return self.done.answer_path.value if self.done else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "citations": self.citations_json(),
            "answer_path": self.path,
            "intent": self.done.intent if self.done else "",
            "session_id": self.done.session_id if self.done else "",
            "handoff": self.handoff_kind,
        }


def _needs_customer(definition: AssistantDefinition, customer: str | None) -> None:
    if definition.end_user == "customer" and customer is None:
        raise ValueError(
            f"assistant {definition.name!r} acts for a customer: name one (--customer)"
        )


def judge(smoke: Smoke, answer: Answer) -> str | None:
    """Why ``answer`` fails ``smoke``, or None."""
    if smoke.expect == "not_sure":
        return None if answer.path == "not_sure" else f"expected not sure, got {answer.path}"
    if answer.path not in ANSWERED:
        return f"expected an answer, got {answer.path}"
    if not answer.citations:
        return "the answer cites nothing"
    missing = [fact for fact in smoke.must_include if fact.lower() not in answer.answer.lower()]
    return f"the answer lacks {missing}" if missing else None


class _Local:
    """One assistant over the local model and knowledge base, in this process."""

    def __init__(self, settings: Settings, definition: AssistantDefinition, kb: Any,
                 model: Any, order_url: tuple[str, str] | None,
                 secrets: Mapping[str, str]) -> None:  # fmt: skip
        self.settings = settings
        self.definition = definition
        self.kb = kb
        self.model = model
        self.order_url = order_url
        self.secrets = secrets

    def documents(self) -> dict[str, int]:
        """How many documents each of its collections holds."""
        from switchboard.rag.types import CollectionRef

        tenant = self.settings.knowledge.default_tenant
        infos = {c: self.kb.store.get_collection(CollectionRef(tenant, c))
                 for c in self.definition.collection_names}  # fmt: skip
        return {c: info.documents if info is not None else 0 for c, info in infos.items()}

    def ask(self, question: str, customer: str | None) -> Answer:
        return asyncio.run(self._turn(question, customer or "cli"))

    async def _turn(self, question: str, customer: str) -> Answer:
        from switchboard.assistant.conversations import ConversationStore
        from switchboard.assistant.orchestrator import TurnRequest
        from switchboard.assistant.order_client import OrderClient
        from switchboard.assistant.service import default_name, edge_tools, open_assistant

        orders = OrderClient(*self.order_url) if self.order_url else None
        served = default_name(self.settings, list(_definitions(self.settings)))
        conversations = ConversationStore(  # the server's file: its default owns old sessions
            self.settings.assistant_db,
            default_tenant=self.settings.knowledge.default_tenant,
            default_assistant=served,
        )
        answer = Answer()
        tools = None
        try:
            tools = edge_tools(self.settings, self.definition, orders, self.secrets)
            assistant = open_assistant(self.settings, self.model, self.kb, self.definition,
                                       conversations=conversations, tools=tools)  # fmt: skip
            async for event in assistant.orchestrator.turn(TurnRequest(customer, question)):
                answer.see(event)
        finally:
            if tools is not None:
                await tools.aclose()
            if orders is not None:
                await orders.aclose()
            conversations.close()
        return answer


@contextlib.contextmanager
def _local(
    settings: Settings, definition: AssistantDefinition, secrets: Mapping[str, str]
) -> Iterator[_Local]:
    """The local model, the knowledge base and (for an assistant whose tools name no base
    URL) the demo Order API as its own process, for as long as the block runs; its tools
    get their secrets from ``secrets`` (checked first, before anything starts)."""
    from switchboard.assistant.local_model import LocalChatModel
    from switchboard.assistant.service import check_secrets

    check_secrets(settings, [definition], secrets)
    from switchboard.engine.local import LocalEngine
    from switchboard.rag.knowledge import KnowledgeBase

    gguf = model_path(settings, settings.model)
    with contextlib.ExitStack() as stack:
        order_url = None
        if definition.tools_need_base_url:
            from switchboard.orders.supervisor import order_service

            orders = settings.orders.model_copy(update={"port": 0})
            supervisor = stack.enter_context(order_service(orders, settings.orders_db, quiet=True))
            order_url = (supervisor.url, supervisor.token)
        engine = LocalEngine(settings.model, gguf, settings.engine, draft_model_path(settings))
        engine.start()
        stack.callback(engine.close)
        kb = KnowledgeBase.open(settings.knowledge, settings.knowledge_store, settings.models_dir)
        stack.callback(kb.close)
        yield _Local(settings, definition, kb, LocalChatModel(engine), order_url, secrets)
