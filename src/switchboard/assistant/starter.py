"""A working definition to start from (``switchboard assistants new``)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from switchboard.assistant.definition import DefinitionError
from switchboard.assistant.definition_parts import NAME


def starter(name: str, collections: str | Sequence[str], title: str | None = None) -> str:
    """A working definition over ``collections`` (one or several) to start from
    (``assistants new``)."""
    if not re.match(NAME, name):
        raise DefinitionError(f"{name!r} is not an assistant name (lowercase, digits, - and _)")
    names = [collections] if isinstance(collections, str) else list(collections)
    title = title or name.replace("-", " ").replace("_", " ").capitalize()
    quoted = ", ".join(f'"{_toml(c)}"' for c in names)
    line = f"collection = {quoted}" if len(names) == 1 else f"collections = [{quoted}]"
    over = f"the collection{'s' if len(names) > 1 else ''} {quoted}"
    return _STARTER.format(name=name, over=over, line=line, title=_toml(title))


def _toml(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


_STARTER = '''# An assistant over {over} (switchboard assistants new).
# Check it with: switchboard assistants check {name}
name = "{name}"
title = "{title}"
{line}
handoff = false  # no colleague to hand a question over to (true: offers and tickets)

[prompts]
grounded = """You are the assistant of {title}. Answer the question using only the facts \
in the sources below. After each fact, cite its source number in square brackets, like \
[1]. If the sources do not answer the question, say you are not sure. Answer in at most \
three short sentences."""
small_talk = """You are the friendly assistant of {title}. Reply in one short sentence \
and offer help with questions about its documents. Do not state any facts."""

[replies]
out_of_scope = "I can only help with questions about {title}'s documents."
not_sure = "I'm not sure about that: I couldn't find it in our documents, and I'd rather not guess."
ticket_created = "I've passed our conversation to a colleague (ticket {{ticket_id}})."

[retrieval]
answer_mode = "quote"

# Questions `switchboard assistants check {name}` asks; add the facts each answer must state.
# [[smoke]]
# question = "..."
# must_include = ["..."]
'''
