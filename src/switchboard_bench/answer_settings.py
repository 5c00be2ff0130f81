"""The named ways of answering that ``switchboard bench assistant`` compares.

Each is a documented set of overrides of the typed settings, by dotted path
(``"engine.prefix_cache": False``), applied to the configured settings with ``model_copy``;
the section an override lands in is validated, so a misspelt path or a value its field
refuses is an error before anything runs. A new row is one line of ``ANSWER_SETTINGS``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from switchboard.config import Settings

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class AnswerSetting:
    name: str
    about: str
    overrides: Mapping[str, Any]  # dotted settings path -> value


_GENERATE: dict[str, Any] = {"assistant.answer_mode": "generate"}

ANSWER_SETTINGS: tuple[AnswerSetting, ...] = (
    AnswerSetting("quote", "quoted evidence sentences, no model call (the default)",
                  {"assistant.answer_mode": "quote"}),
    AnswerSetting("generate", "the model answers as shipped: grounding check, prefix cache",
                  _GENERATE),
    AnswerSetting("generate-unchecked", "generate without the grounding check",
                  {**_GENERATE, "assistant.grounding.enabled": False}),
    AnswerSetting("generate-no-prefix", "generate without the prefix cache",
                  {**_GENERATE, "engine.prefix_cache": False}),
    AnswerSetting("generate-evidence", "generate from the 4 best evidence sentences, not chunks",
                  {**_GENERATE, "assistant.evidence_spans": 4}),
    AnswerSetting("generate-ngram", "generate with n-gram speculative decoding",
                  {**_GENERATE, "engine.speculative": "ngram"}),
    AnswerSetting("generate-draft", "generate with qwen2.5-0.5b drafting (for qwen2.5-1.5b)",
                  {**_GENERATE, "engine.draft_model": "qwen2.5-0.5b",
                   "engine.speculative": "draft"}),
)  # fmt: skip


def pick_settings(
    names: Sequence[str], table: Sequence[AnswerSetting] = ANSWER_SETTINGS
) -> list[AnswerSetting]:
    """The named rows of ``table``, in the order given; an unknown name is a ValueError."""
    known = {s.name: s for s in table}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]!r}; known: {', '.join(known)}")
    if not names:
        raise ValueError("no setting named")
    return [known[n] for n in dict.fromkeys(names)]


def apply_setting(settings: Settings, setting: AnswerSetting) -> Settings:
    """``settings`` with ``setting``'s overrides; a bad path or value is a ValueError."""
    for path, value in setting.overrides.items():
        try:
            settings = _with(settings, path.split("."), value, path)
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
            raise ValueError(f"setting {setting.name}: {path} = {value!r}: {reason}") from None
        except KeyError:
            raise ValueError(f"setting {setting.name}: no setting {path}") from None
    return settings


def _with(model: M, names: list[str], value: Any, path: str) -> M:
    head, *rest = names
    if head not in type(model).model_fields:
        raise KeyError(path)
    if rest:
        inner = getattr(model, head)
        if not isinstance(inner, BaseModel):
            raise KeyError(path)
        return model.model_copy(update={head: _with(inner, rest, value, path)})
    checked = type(model).model_validate({**dict(model), head: value})
    return model.model_copy(update={head: getattr(checked, head)})
