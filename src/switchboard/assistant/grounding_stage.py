"""The grounding check in the assistant's turn: the model's answer, as it streams, checked
against the evidence of the turn (``grounding``), for every model, local or remote.

The evidence is read when the model starts: the passages given to it (``state.sources``,
numbered as it cites them) and the Order API's results of the turn. What the check did
is kept in ``state.grounding`` (the answer's path: ``generated``, ``generated+repaired``
or ``quoted``; the furthest of a turn's model calls) and the hold-back's toll on the time
to the first token in ``timings_ms["grounding"]``. Only an answer that went through the
check is cached (``turn_cache``).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

from switchboard.assistant.claims import OptionWords
from switchboard.assistant.grounding import EvidenceIndex, GroundedStream, Passage
from switchboard.assistant.turn import TurnState
from switchboard.assistant.types import AnswerPath
from switchboard.config import GroundingSettings
from switchboard.stages.stage import Stage

_SEVERITY = (AnswerPath.GENERATED, AnswerPath.REPAIRED, AnswerPath.QUOTED)


class GroundingStage(Stage[TurnState]):
    def __init__(self, options: OptionWords | None, holdback_chars: int) -> None:
        self.options = options
        self.holdback_chars = holdback_chars

    def on_output(self, state: TurnState, text: AsyncIterator[str]) -> AsyncIterator[str]:
        return self._grounded(state, text)

    async def _grounded(self, state: TurnState, text: AsyncIterator[str]) -> AsyncIterator[str]:
        stream = GroundedStream(
            evidence_of(state, self.options), state.message, self.holdback_chars
        )
        first_in: float | None = None
        try:
            async for piece in text:
                first_in = first_in or time.perf_counter()
                out = stream.feed(piece)
                if out:
                    _first_out(state, first_in)
                    yield out
        except Exception:  # the model failed: what was held goes out (checked), then the error
            out = stream.flush()
            if out:
                yield out
            raise
        else:
            out = stream.end()
            if out:
                _first_out(state, first_in)
                yield out
        finally:
            aclose = getattr(text, "aclose", None)
            if aclose is not None:
                await aclose()  # a turn closed early (the client left) stops the model
        record(state, stream.path)


def record(state: TurnState, path: AnswerPath) -> None:
    """The turn's grounding path: the furthest from ``generated`` of its model calls."""
    before = state.grounding or AnswerPath.GENERATED
    state.grounding = max(before, path, key=_SEVERITY.index)


def evidence_of(state: TurnState, options: OptionWords | None) -> EvidenceIndex:
    """The turn's passages (with the section each came from, when retrieval knows it) and
    its Order API results."""
    headings = {
        (h.stored.chunk.document_id, h.stored.chunk.text): h.stored.chunk.heading_path[-1]
        for h in state.hits
        if h.stored.chunk.heading_path
    }
    passages = [
        Passage(number, s.title, s.text, headings.get((s.article_id, s.text), ""), s.url)
        for number, s in enumerate(state.sources, 1)
    ]
    facts = list(state.lookup.prompt_blocks) if state.lookup is not None else []
    facts += [json.dumps(r.data, default=str) for r in state.tool_results if r.data is not None]
    return EvidenceIndex(passages, facts, options)


def _first_out(state: TurnState, first_in: float | None) -> None:
    if first_in is not None and "grounding" not in state.timings_ms:
        state.timings_ms["grounding"] = (time.perf_counter() - first_in) * 1000


def open_grounding(settings: GroundingSettings, default_options: Path) -> GroundingStage | None:
    """The check of ``settings`` (None when turned off); option names from the file the
    settings name, else ``default_options``, and every country name."""
    if not settings.enabled:
        return None
    path = settings.option_words or default_options
    if not path.is_file():
        raise ValueError(f"assistant.grounding.option_words: no such file {path}")
    return GroundingStage(
        OptionWords.from_file(path, countries=settings.countries), settings.holdback_chars
    )
