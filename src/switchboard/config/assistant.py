"""The support assistant: routing, evidence, answers, its model."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class RemoteModelSettings(BaseModel):
    """An OpenAI-compatible server (vLLM, llama-server, Ollama, OpenAI) the assistant
    generates with instead of the local engine; with function calling it picks the tools."""

    base_url: str = Field(description="e.g. http://127.0.0.1:8080 (the /v1 path is added).")
    model: str = Field(description="The model name the server expects.")
    api_key: SecretStr | None = Field(None, description="Sent as a Bearer token.")
    max_model_len: int = Field(ge=64, description="The served model's context window.")
    tokenizer: str = Field(
        description="Registry name or GGUF path of the served model (only its vocabulary "
        "and chat template are loaded), to count prompt tokens exactly."
    )
    chat_template: Path | None = Field(
        None, description="The server's own Jinja chat template, if it was given one."
    )
    supports_tools: bool = Field(
        True, description="Offer it the tools (function calling) instead of routing by intent."
    )
    timeout_s: float = Field(60.0, gt=0, description="Longest wait between two chunks.")


class GroundingSettings(BaseModel):
    """The grounding check on the assistant's answers: numbers, amounts, durations, dates,
    codes and named options must be stated by the evidence, or their sentence is left out."""

    enabled: bool = Field(True, description="Check answers (generate mode) against their evidence.")
    holdback_chars: int = Field(
        200, ge=8, le=4096, description="Most answer text held back while its sentence is checked."
    )
    option_words: Path | None = Field(
        None,
        description="Named options to check (carriers, payment methods): one per line, "
        "aliases separated by '|' (default: the demo shop's list).",
    )
    countries: bool = Field(True, description="Also check the names of countries.")


class AssistantSettings(BaseModel):
    """The assistants: where their definitions are, and the defaults of what a definition
    leaves out (retrieval, grounding, generation, conversations)."""

    definitions_dir: Path | None = Field(
        None,
        description="Folder of assistant definitions, one TOML file each (default "
        "<data_dir>/assistants; `switchboard assistants new` writes there).",
    )
    demo_assistants: bool = Field(
        True,
        description="Also serve the demo's assistants: shop (the demo shop's support) and "
        "helpdesk (an IT helpdesk over the demo's second corpus).",
    )
    default: str | None = Field(
        None,
        description="The assistant a chat without one names gets (default: shop when it "
        "is served, else the first by name).",
    )
    db_path: Path | None = Field(
        None, description="Conversations SQLite file (default <data_dir>/assistant.sqlite3)."
    )
    router_threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Router confidence below which the intent is unsure (see "
        "switchboard.assistant.router.DEFAULT_THRESHOLD for how it was chosen).",
    )
    unsure_handoff_floor: float = Field(
        0.35,
        ge=0.0,
        le=1.0,
        description="When the articles do not answer, an unsure handoff intent still creates "
        "a ticket if its score reaches this; below it the reply is 'not sure' with a "
        "colleague offered (an assistant with few intents would otherwise hand off "
        "questions that only resemble a handoff request least badly).",
    )
    relevance_floor: float = Field(
        0.35,
        ge=-1.0,
        le=1.0,
        description="Best retrieved chunk's cosine similarity below which the assistant "
        "says it is not sure and offers a handoff instead of answering.",
    )
    top_k: int = Field(4, ge=1, le=20, description="Retrieved chunks offered to the prompt.")
    query_focus: Literal["none", "questions", "last_question"] = Field(
        "none",
        description="What of a long message is routed and searched: all of it, the "
        "sentences that ask something, or the last of them (switchboard.assistant.focus; "
        "both focused strategies lost retrieval hits on the dev sets, so off by default).",
    )
    focus_min_words: int = Field(
        20, ge=0, description="Messages of at most this many words are never focused."
    )
    evidence_spans: int = Field(
        0,
        ge=0,
        le=20,
        description="Sentences of the retrieved chunks that best answer the question, put "
        "into the prompt instead of the whole chunks (0: the whole chunks; 4 measured best "
        "for holding the key facts, but not yet with the model: benchmarks/README.md).",
    )
    language_handoff: bool = Field(
        True,
        description="A message clearly in another language (German, French, Spanish, "
        "Italian, Dutch, Polish or Portuguese) is answered in that language with a handoff "
        "offer instead of the English pipeline (switchboard.assistant.language); false: "
        "every message goes through the English pipeline.",
    )
    answerable_key_terms: int = Field(
        1,
        ge=0,
        le=10,
        description="The question's most central words (its key terms): below "
        "answerable_trusted_relevance, when the evidence speaks about none of them the "
        "assistant says it is not sure and offers a handoff (0: off, the relevance floor "
        "alone decides).",
    )
    answerable_term_floor: float = Field(
        0.3,
        ge=-1.0,
        le=1.0,
        description="Cosine of a key term and an evidence sentence at which the sentence "
        "speaks about it without containing the word (a paraphrase).",
    )
    order_question_relevance: float | None = Field(
        0.65,
        ge=-1.0,
        le=1.0,
        description="After an order's status, the help centre's answer too when the message "
        'also asks something beyond the status ("tracking says delivered but nothing came, '
        'what now?": switchboard.assistant.order_question) or its best chunk matches the '
        "message this closely; null: the status alone.",
    )
    answerable_trusted_relevance: float = Field(
        0.45,
        ge=-1.0,
        le=1.0,
        description="Best retrieved chunk's cosine from which an answer is trusted without "
        "checking the question's key terms against the evidence.",
    )
    answer_mode: Literal["generate", "quote"] = Field(
        "quote",
        description="How a question is answered from the help centre: the best evidence "
        "sentences quoted with their citations, without a model call (quote: the default, "
        "since the default small model restates facts unreliably), or the model writes the "
        "answer from its sources (generate: for a stronger model).",
    )
    quote_sentences: int = Field(
        4, ge=1, le=10, description="Most sentences a quoted answer gives (answer_mode quote)."
    )
    quote_window: int = Field(
        3,
        ge=0,
        le=20,
        description="Chunks either side of a retrieved chunk a quote may come from (0: the "
        "retrieved chunks only).",
    )
    max_tokens: int = Field(200, ge=16, description="Output tokens reserved per answer.")
    max_message_chars: int = Field(4000, ge=1, description="Longest customer message.")
    temperature: float = Field(
        0.0, ge=0.0, le=2.0, description="Sampling temperature of generated answers (0: greedy)."
    )
    stop: list[str] = Field(
        default_factory=lambda: ["\n\n", "\nQuestion:"],
        description="Answers are one paragraph: small models ramble on past it.",
    )
    history_messages: int = Field(12, ge=0, description="Past messages loaded per turn.")
    demo: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Demo mode: GET /v1/assistant/customers (every customer and their orders, "
        "the chat widget's picker) and POST /v1/assistant/demo/token (a customer token for "
        "the picked customer). auto: on while authentication is off (loopback development); "
        "never turn it on for real customers.",
    )
    remote: RemoteModelSettings | None = Field(
        None, description="Generate with a remote server instead of the local engine."
    )
    model_route: str | None = Field(
        None,
        description="The gateway route the assistant's model calls take: a model the "
        "gateway serves or an alias of gateway.routes (its fallbacks, deadline and prices "
        "apply). Default: the local model's name; with [assistant.remote] and no route, "
        "its calls go to that server directly.",
    )
    grounding: GroundingSettings = Field(default_factory=GroundingSettings)
