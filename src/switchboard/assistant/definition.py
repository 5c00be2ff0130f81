"""An assistant, declared: who it is, what it knows, what it may do (one TOML file each).

    name = "helpdesk"                      # the file's stem when left out
    title = "Northwind IT helpdesk"
    collection = "helpdesk"                # the knowledge-base collection it answers from
                                           # (or collections = ["a", "b"]: searched together)

    [prompts]                              # system prompts
    grounded = "You are the IT helpdesk assistant of ... cite sources like [1] ..."
    small_talk = "Reply in one short sentence ..."

    [replies]                              # what it says without the model
    out_of_scope = "I can only help with ..."
    not_sure = "I'm not sure about that ..."
    ticket_created = "I've passed this to a colleague (ticket {ticket_id}) ..."
    handoff_offer = "Would you like me to connect you with a colleague?"

    [retrieval]                            # overrides of the [assistant] settings
    answer_mode = "quote"

    [[intents]]                            # optional: without intents every message is
    name = "human_handoff"                 # a question for the documents
    action = "handoff"                     # answer | lookup | handoff | refuse | small_talk
    examples = ["can I talk to a person", ...]

    tools = "shop_tools.toml"              # HTTP tools (switchboard.tools.declarations),
                                           # relative to this file; a file without a
                                           # base_url calls the Order API of [orders]
    [lookup]                               # the end user's records, fetched with read
    tool = "get_order"                     # tools and stated with templates
    ...                                    # (switchboard.assistant.lookup)

    [tools_openapi]                        # HTTP tools from an OpenAPI 3 document
    file = "orders.openapi.json"           # JSON or YAML, relative to this file
    base_url = "https://api.example.com"   # optional; default: the document's servers[0]
    operations = ["getOrder"]              # optional: only these operation ids
    end_user = "customer_id"               # optional: the parameter the server fills
    secret_env = "EXAMPLE_TOKEN"           # optional, with secret_header (secret_prefix)
    secret_header = "Authorization"        # sent with the variable's value, which the
    secret_prefix = "Bearer "              # server reads from its environment at start

    [intents.proposes]                     # of an intent: a message of it that names one
    tool = "cancel_order"                  # record proposes this write tool, performed
    argument = "order_id"                  # only after the user's "yes" the next turn
    ask = "I can cancel order {order_id}. Shall I go ahead? Reply yes to confirm."
    done = "Done: order {order_id} is cancelled."
    failed = "I couldn't cancel order {order_id}: {reason}"

    [[smoke]]                              # ``switchboard assistants check`` asks these
    question = "How do I reset my password?"
    must_include = ["self-service portal"]

A definition is validated when it is loaded: an unknown key, a missing text, a ticket
reply without ``{ticket_id}`` or a duplicate intent is an error naming the file and the
field. What the server's ``[assistant]`` settings say applies unless the definition says
otherwise.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from switchboard.assistant.definition_parts import (
    NAME,
    IntentSpec,
    ModelPolicy,
    Prompts,
    Replies,
    Retrieval,
    Smoke,
    Strict,
    Widget,
    WriteProposal,
)
from switchboard.assistant.lookup import LookupSpec
from switchboard.assistant.types import Action
from switchboard.config import AssistantSettings
from switchboard.demo import assistants_dir
from switchboard.tools import HttpToolSpec, OpenApiImport, tool_specs

CHECK_BASE_URL = "http://127.0.0.1"  # where tools without a base_url are checked against
MODEL_PREFIX = "assistant:"
"""``model: "assistant:<name>"`` in a chat completion asks that assistant."""


class DefinitionError(ValueError):
    """A definition that cannot be loaded: the message names the file and each field."""


class AssistantDefinition(Strict):
    name: str = Field(pattern=NAME)
    title: str = Field(min_length=1)
    description: str = ""
    collection: str | None = Field(
        None, min_length=1, description="The knowledge-base collection (or collections)."
    )
    collections: list[str] = Field(
        default_factory=list,
        description="Several collections, searched together into one ranked list.",
    )
    prompts: Prompts
    replies: Replies
    retrieval: Retrieval = Field(default_factory=Retrieval)
    intents: list[IntentSpec] = Field(default_factory=list)
    end_user: Literal["none", "customer"] = Field(
        "none",
        description="customer: every turn acts for a verified customer (a customer token "
        "with authentication on); none: anyone who may call the API.",
    )
    lookup: LookupSpec | None = Field(
        None,
        description="The end user's records, looked up with its read tools and stated "
        "(switchboard.assistant.lookup).",
    )
    tools: Path | None = Field(
        None,
        description="HTTP tools it may call (a declarations file, relative to the "
        "definition); a file without base_url calls the Order API of [orders].",
    )
    tools_openapi: OpenApiImport | None = Field(
        None, description="HTTP tools imported from an OpenAPI 3 document."
    )
    handoff: bool = Field(True, description="Offer a colleague and create handoff tickets.")
    guard: bool = Field(True, description="Run the guardrails (as configured in [guard]).")
    cache: bool = Field(True, description="Use the response cache (as configured in [cache]).")
    model: ModelPolicy = Field(default_factory=ModelPolicy)
    widget: Widget = Field(default_factory=Widget)
    smoke: list[Smoke] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> AssistantDefinition:
        if self.collection is not None and self.collections:
            raise ValueError("give collection or collections, not both")
        if not self.collection_names:
            raise ValueError("needs a collection or collections")
        twice = sorted({c for c in self.collections if self.collections.count(c) > 1})
        if twice:
            raise ValueError(f"collections named twice: {twice}")
        names = [intent.name for intent in self.intents]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"intents declared twice: {repeated}")
        if not self.handoff:
            if any(intent.action is Action.HANDOFF for intent in self.intents):
                raise ValueError("an intent hands off, but handoff = false")
            if self.replies.other_language:
                raise ValueError("replies.other_language offers a colleague: needs handoff")
        self._check_tools()
        return self

    def _check_tools(self) -> None:
        """The tools load, those acting for the end user have one, the lookup's are read
        tools of them and every proposed one a write tool."""
        specs = {spec.name: spec for spec in self.tool_specs(CHECK_BASE_URL)}
        for_user = [name for name, spec in specs.items() if spec.end_user]
        if for_user and self.end_user != "customer":
            raise ValueError(f"tools {for_user} act for the end user: needs end_user = 'customer'")
        proposals = [intent.proposes for intent in self.intents if intent.proposes]
        if (self.lookup is not None or proposals) and not specs:
            raise ValueError(
                '[lookup] and [intents.proposes] call tools: set tools = "FILE" or [tools_openapi]'
            )
        if self.lookup is not None:
            for name in self.lookup.tool_names:
                if name not in specs or specs[name].write:
                    raise ValueError(f"lookup: {name!r} is not one of its read tools")
            if self.lookup.argument not in specs[self.lookup.tool].properties:
                raise ValueError(
                    f"lookup: {self.lookup.tool} has no argument {self.lookup.argument!r}"
                )
        if proposals and self.lookup is None:
            raise ValueError("an intent proposes a write tool: needs a [lookup] (its numbers)")
        for proposal in proposals:
            write = specs.get(proposal.tool)
            if write is None:
                raise ValueError(f"proposes {proposal.tool!r}, which {self.tools} does not declare")
            if not write.write:
                raise ValueError(f"proposes {proposal.tool!r}, which is no write tool")
            if proposal.argument not in write.properties:
                raise ValueError(f"{proposal.tool} has no argument {proposal.argument!r}")

    def tool_specs(self, default_base_url: str) -> list[HttpToolSpec]:
        """Its declared tools (a file without ``base_url`` gets ``default_base_url``) and
        those it imports from an OpenAPI document; a name in both is an error."""
        declared = self._declared_specs(default_base_url)
        try:
            imported = self.tools_openapi.specs() if self.tools_openapi is not None else []
        except ValueError as exc:
            raise ValueError(f"tools_openapi: {exc}") from None
        twice = sorted({s.name for s in declared} & {s.name for s in imported})
        if twice:
            raise ValueError(f"tools declared both in the tools file and tools_openapi: {twice}")
        return declared + imported

    def _declared_specs(self, default_base_url: str) -> list[HttpToolSpec]:
        document = self._tools_document()
        if document is None:
            return []
        try:
            return tool_specs(document, base_url=document.get("base_url") or default_base_url)
        except ValueError as exc:
            raise ValueError(f"tools {self.tools}: {exc}") from None

    def _tools_document(self) -> dict[str, Any] | None:
        """Its tools file, parsed (None without one)."""
        if self.tools is None:
            return None
        try:
            return tomllib.loads(self.tools.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"tools {self.tools}: {exc}") from None

    @property
    def tools_need_base_url(self) -> bool:
        """Its tools file names no ``base_url``: the server's (the demo Order API) is used."""
        document = self._tools_document()
        return document is not None and not document.get("base_url")

    @property
    def collection_names(self) -> tuple[str, ...]:
        """The collections it answers from, in the order it names them."""
        return (self.collection,) if self.collection is not None else tuple(self.collections)

    def proposal(self, intent: str) -> WriteProposal | None:
        """The write tool a message of ``intent`` proposes, if any."""
        return next((i.proposes for i in self.intents if i.name == intent), None)

    @property
    def system_prompts(self) -> tuple[str, ...]:
        """Every system prompt it may send (the output guard checks none of them leaks)."""
        prompts = (self.prompts.grounded, self.prompts.small_talk, self.prompts.tools)
        return tuple(p for p in prompts if p)

    def settings(self, base: AssistantSettings) -> AssistantSettings:
        """The server's ``[assistant]`` settings with this definition's overrides."""
        update: dict[str, Any] = {
            key: value for key, value in self.retrieval.model_dump().items() if value is not None
        }
        if not self.replies.other_language:
            update["language_handoff"] = False
        for key in ("temperature", "max_tokens"):
            value = getattr(self.model, key)
            if value is not None:
                update[key] = value
        if self.model.route is not None:
            update["model_route"] = self.model.route
        return base.model_copy(update=update)


def load_definition(path: Path) -> AssistantDefinition:
    """The definition in the TOML file at ``path``; ``DefinitionError`` names what is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DefinitionError(f"{path}: cannot read it: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"{path}: not valid TOML: {exc}") from None
    if isinstance(data.get("tools"), list):
        raise DefinitionError(
            f"{path}: a tools file, not an assistant: keep tools files outside the "
            'definitions folder (a definition names its file with tools = "...")'
        )
    data.setdefault("name", path.stem)
    if isinstance(data.get("tools"), str):
        data["tools"] = str(path.parent / data["tools"])  # an absolute path stays as it is
    openapi = data.get("tools_openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("file"), str):
        data["tools_openapi"] = {**openapi, "file": str(path.parent / openapi["file"])}
    if data["name"] != path.stem:
        raise DefinitionError(f"{path}: name {data['name']!r} differs from the file's stem")
    try:
        return AssistantDefinition.model_validate(data)
    except ValidationError as exc:
        raise DefinitionError(f"{path}: {_problems(exc)}") from None


def load_definitions(folders: Iterable[Path]) -> dict[str, AssistantDefinition]:
    """Every ``*.toml`` of ``folders`` (a missing folder has none), by name; a name in two
    folders is an error, not an override."""
    found: dict[str, AssistantDefinition] = {}
    where: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else ():
            definition = load_definition(path)
            if definition.name in found:
                raise DefinitionError(
                    f"{path}: assistant {definition.name!r} is also defined in "
                    f"{where[definition.name]}"
                )
            found[definition.name] = definition
            where[definition.name] = path
    return found


def demo_definition(name: str) -> AssistantDefinition:
    """One of the demo's definitions (``shop``, ``helpdesk``)."""
    return load_definition(assistants_dir() / f"{name}.toml")


def assistant_named(model: str) -> str | None:
    """The assistant a chat completion's ``model`` asks for (``assistant:<name>``), if any."""
    if not model.startswith(MODEL_PREFIX):
        return None
    return model[len(MODEL_PREFIX) :]


def _problems(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(top)"
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def intents_by_name(definition: AssistantDefinition) -> Mapping[str, Action]:
    return {intent.name: intent.action for intent in definition.intents}
