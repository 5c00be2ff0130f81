"""The guardrails: PII, prompt injection and toxicity, per direction."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

GuardCategory = Literal["pii", "injection", "toxicity"]
GuardAction = Literal["allow", "flag", "redact", "block"]

DEFAULT_POLICY: dict[GuardCategory, GuardAction] = {
    "pii": "redact",
    "injection": "block",
    "toxicity": "block",
}
DEFAULT_PII_ENTITIES = [
    "PERSON",
    "LOCATION",
    "STREET_ADDRESS",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "CARD_EXPIRY",
    "CARD_CVV",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
]


class PiiSettings(BaseModel):
    entities: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PII_ENTITIES),
        description="Presidio entity names to detect.",
    )
    score_threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Presidio score from which an entity counts."
    )
    ner: bool = Field(True, description="spaCy NER for names and places; off: patterns only.")
    keep: list[str] = Field(
        default_factory=lambda: ["LOCATION"],
        description="Types recorded (flag) but passed on: a town identifies no one on its "
        "own, and delivery and customs answers depend on it.",
    )

    @model_validator(mode="after")
    def _check_entities(self) -> PiiSettings:
        unknown = sorted(set(self.entities + self.keep) - set(DEFAULT_PII_ENTITIES))
        if unknown:
            raise ValueError(
                f"unknown PII entity types {unknown}; supported: {', '.join(DEFAULT_PII_ENTITIES)}"
            )
        return self


class InjectionSettings(BaseModel):
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="Detector score that flags.")


class ToxicitySettings(BaseModel):
    threshold: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="Probability; lower blocks customers who swear at a late parcel.",
    )


class GuardSettings(BaseModel):
    """Guardrails on the customer's message (input) and the model's answer (output).

    The action per category and direction: ``block`` (the caller gets a safe message),
    ``redact`` (the span becomes a placeholder), ``flag`` (passed on, recorded) or ``allow``.
    """

    enabled: bool = Field(True, description="Scan messages and answers (false: no guard).")
    pii: PiiSettings = Field(default_factory=PiiSettings)
    injection: InjectionSettings = Field(default_factory=InjectionSettings)
    toxicity: ToxicitySettings = Field(default_factory=ToxicitySettings)
    input: dict[GuardCategory, GuardAction] = Field(
        default_factory=lambda: dict(DEFAULT_POLICY),
        description="Action per category on what users send (allow, flag, redact, block).",
    )
    output: dict[GuardCategory, GuardAction] = Field(
        default_factory=lambda: dict(DEFAULT_POLICY),
        description="Action per category on streamed answers (injection: prompt leakage).",
    )
    holdback_chars: int = Field(
        64, ge=8, le=1024, description="Most answer text held back while it is checked."
    )
    blocked_input_message: str = Field(
        "Sorry, I can't help with that message. Please rephrase your question.",
        description="What the user reads instead of an answer to a blocked message.",
    )
    blocked_output_message: str = Field(
        "Sorry, I can't share that. Is there anything else I can help you with?",
        description="What replaces a blocked answer.",
    )
