"""Texts a definition writes over a tool's JSON answer: Jinja templates, sandboxed.

    {{ order_id }} is {{ status | replace('_', ' ') }}, due {{ due | date }}.
    {% if shipment %}It ships with {{ shipment.carrier }}.{% endif %}

The JSON object's keys are the template's variables (a list answer is ``items``), with the
call's arguments beside them. The sandbox gives a template no access to Python beyond the
data; a missing key renders as nothing. ``date`` writes an ISO date or time as
``07 December 2026`` (or in the ``strftime`` format given). Templates are compiled when the
definition loads, so a syntax error is a definition error, not a failed turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

DATE_FORMAT = "%d %B %Y"


def _date(value: Any, fmt: str = DATE_FORMAT) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, date):
        return value.strftime(fmt)
    return "" if value is None else str(value)


_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)
_ENV.filters["date"] = _date


class Template:
    """One compiled template; ``ValueError`` for a syntax error."""

    def __init__(self, source: str) -> None:
        try:
            self._template = _ENV.from_string(source)
        except TemplateError as exc:
            raise ValueError(f"template error: {exc}") from None
        self.source = source

    def text(self, values: Mapping[str, Any]) -> str:
        """Rendered as sentences: runs of white space (line breaks too) become one space."""
        return " ".join(self._render(values).split())

    def lines(self, values: Mapping[str, Any]) -> str:
        """Rendered as lines: each stripped, the blank ones dropped."""
        lines = (line.strip() for line in self._render(values).splitlines())
        return "\n".join(line for line in lines if line)

    def _render(self, values: Mapping[str, Any]) -> str:
        try:
            return self._template.render(values)
        except TemplateError as exc:
            raise ValueError(f"template error: {exc}") from None
        except (TypeError, ValueError, ArithmeticError) as exc:  # a filter given odd data
            raise ValueError(f"template error: {type(exc).__name__}: {exc}") from None


def template_values(data: Any, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON answer as a template's variables: an object's keys, or a list as ``items``;
    the call's arguments beneath them."""
    if isinstance(data, Mapping):
        return {**arguments, **data}
    if isinstance(data, list):
        return {**arguments, "items": data}
    return {**arguments, "value": data}
