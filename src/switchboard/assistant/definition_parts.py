"""The sections of an assistant definition (``definition``): its prompts, fixed replies,
retrieval overrides, model policy, intents with the write tools they propose, widget and
smoke questions; each validated on its own, with errors naming the field."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from switchboard.assistant.language import LANGUAGES
from switchboard.assistant.types import Action

NAME = r"^[a-z][a-z0-9_-]{0,39}$"
INTENT_NAME = r"^[a-z][a-z0-9_]{0,39}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prompts(Strict):
    grounded: str = Field(min_length=1, description="System prompt of answers from sources.")
    small_talk: str = Field(min_length=1, description="System prompt of greetings and thanks.")
    tools: str | None = Field(
        None, description="System prompt when the model calls the tools itself."
    )


class Replies(Strict):
    out_of_scope: str = Field(min_length=1, description="The refusal of an off-topic message.")
    not_sure: str = Field(min_length=1, description="When the documents do not answer.")
    ticket_created: str = Field(
        min_length=1, description="After a handoff ticket; {ticket_id} is its number."
    )
    blocked: str | None = Field(
        None,
        description="Instead of an answer to a message a guardrail blocks (default: "
        "guard.blocked_input_message).",
    )
    handoff_offer: str = Field(
        "Would you like me to connect you with a colleague?",
        min_length=1,
        description="The offer of a colleague, after 'not sure' or a failed lookup.",
    )
    other_language: dict[str, str] = Field(
        default_factory=dict,
        description="Per language code, the offer of a colleague in that language; a "
        "message clearly in one of them gets it (none: every message is answered).",
    )

    @field_validator("ticket_created")
    @classmethod
    def _names_the_ticket(cls, value: str) -> str:
        if "{ticket_id}" not in value:
            raise ValueError("must contain {ticket_id}")
        return value

    @field_validator("other_language")
    @classmethod
    def _known_languages(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(LANGUAGES))
        if unknown:
            raise ValueError(f"unknown languages {unknown}; known: {sorted(LANGUAGES)}")
        return value

    def ticket(self, ticket_id: str) -> str:
        return self.ticket_created.replace("{ticket_id}", ticket_id)


class Retrieval(Strict):
    """Overrides of the server's ``[assistant]`` settings of the same name."""

    top_k: int | None = Field(None, ge=1, le=20)
    relevance_floor: float | None = Field(None, ge=-1.0, le=1.0)
    answer_mode: Literal["generate", "quote"] | None = None
    query_focus: Literal["none", "questions", "last_question"] | None = None
    evidence_spans: int | None = Field(None, ge=0, le=64)
    answerable_key_terms: int | None = Field(None, ge=0, le=8)
    quote_sentences: int | None = Field(None, ge=1, le=8)
    quote_window: int | None = Field(None, ge=0, le=8)


class ModelPolicy(Strict):
    route: str | None = Field(
        None, description="The gateway route of its model calls (default: assistant.model_route)."
    )
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(None, ge=16)


class WriteProposal(Strict):
    """A write tool an intent proposes for the one record number its message names (as
    the ``[lookup]`` finds them); the texts name that value as ``{<argument>}`` (and
    ``failed`` the API's ``{reason}``)."""

    tool: str = Field(min_length=1, description="A write tool of the assistant's tools.")
    argument: str = Field("order_id", description="The tool argument the record number fills.")
    ask: str = Field(min_length=1, description="The proposal; ends asking to reply yes.")
    done: str = Field(min_length=1, description="Said after the call succeeded.")
    failed: str = Field(min_length=1, description="Said after the API refused; {reason}.")

    @model_validator(mode="after")
    def _names_the_value(self) -> WriteProposal:
        slot = "{" + self.argument + "}"
        for field_name in ("ask", "done", "failed"):
            if slot not in getattr(self, field_name):
                raise ValueError(f"{field_name} must contain {slot}")
        if "{reason}" not in self.failed:
            raise ValueError("failed must contain {reason}")
        return self

    def say(self, text: str, value: str, reason: str = "") -> str:
        return text.replace("{" + self.argument + "}", value).replace("{reason}", reason)


class IntentSpec(Strict):
    name: str = Field(pattern=INTENT_NAME)
    action: Action
    examples: list[str] = Field(min_length=3)
    proposes: WriteProposal | None = None


class Widget(Strict):
    title: str | None = Field(None, description="The chat window's title (default: title).")
    accent: str = Field("#2f6f4e", pattern=r"^#[0-9a-fA-F]{6}$")
    greeting: str | None = Field(None, description="The first message the widget shows.")


class Smoke(Strict):
    question: str = Field(min_length=1)
    expect: Literal["answer", "not_sure"] = "answer"
    must_include: list[str] = Field(default_factory=list)
