"""A GGUF model loaded and served by the continuous-batching engine."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from switchboard.config import EngineSettings
from switchboard.engine.async_engine import AsyncEngine
from switchboard.engine.chat_template import ChatEncoder
from switchboard.engine.draft_model import ModelDrafter, check_vocabularies
from switchboard.engine.engine import LLMEngine
from switchboard.engine.runner import LlamaModel, LlamaRunner, RunnerConfig
from switchboard.engine.scheduler import SchedulerConfig
from switchboard.engine.speculative import SpeculativeConfig, Speculator

log = logging.getLogger(__name__)


class LocalEngine:
    """``draft_path``: the draft model's file, when ``settings.speculative`` is ``draft``."""

    def __init__(
        self,
        name: str,
        model_path: Path,
        settings: EngineSettings,
        draft_path: Path | None = None,
    ) -> None:
        self.name = name
        self.model = LlamaModel(model_path)
        self.scheduler_config = SchedulerConfig(
            max_num_seqs=settings.max_num_seqs,
            max_batch_tokens=settings.max_batch_tokens,
            kv_cache_tokens=settings.kv_cells,
            max_model_len=min(settings.max_model_len, self.model.n_ctx_train),
            max_waiting=settings.max_waiting,
            prefix_cache_tokens=settings.prefix_cache_cells,
        )
        runner_config = RunnerConfig(
            kv_cache_tokens=settings.kv_cells,
            max_batch_tokens=settings.max_batch_tokens,
            max_num_seqs=settings.max_num_seqs,
            n_threads=settings.n_threads,
            flash_attn=settings.flash_attn,
            kv_unified=settings.kv_unified,
            kv_cache_type=settings.kv_cache_type,
        )
        self.runner = LlamaRunner(self.model, runner_config)
        self.draft: tuple[LlamaModel, LlamaRunner] | None = None
        if settings.speculative == "draft":
            self.draft = self._open_draft(draft_path, runner_config)
        self.engine = LLMEngine(
            self.runner,
            self.model,
            self.scheduler_config,
            settings.seed,
            speculator=speculator_for(
                settings, self.scheduler_config.max_model_len, self.runner, self.draft
            ),
        )
        self._chat = ChatEncoder(self.model)
        self.async_engine = AsyncEngine(self.engine)
        self.model.max_token_bytes  # noqa: B018  (read once here, not on a first request)

    @property
    def max_model_len(self) -> int:
        return self.scheduler_config.max_model_len

    @property
    def max_token_bytes(self) -> int:
        return self.model.max_token_bytes

    def encode_chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[int]:
        return self._chat.encode(messages, tools)

    def encode_prompt(self, text: str) -> list[int]:
        return self.model.tokenize(text, add_special=True, parse_special=False)

    def start(self) -> None:
        self.async_engine.start()

    def close(self) -> None:
        self.async_engine.shutdown()
        self._close_models()

    def _open_draft(
        self, path: Path | None, config: RunnerConfig
    ) -> tuple[LlamaModel, LlamaRunner]:
        """The draft model and its own context, shaped as the target's (one sequence per
        slot); its vocabulary must be the target's."""
        draft: LlamaModel | None = None
        try:
            if path is None:
                raise ValueError("speculative='draft' needs the draft model's file")
            draft = LlamaModel(path)
            check_vocabularies(self.model, draft)
            return draft, LlamaRunner(draft, config)
        except BaseException:
            if draft is not None:
                draft.close()
            self._close_models()
            raise

    def _close_models(self) -> None:
        for model, runner in [*([self.draft] if self.draft else []), (self.model, self.runner)]:
            runner.close()
            model.close()


def speculator_for(
    settings: EngineSettings,
    max_model_len: int,
    runner: LlamaRunner,
    draft: tuple[LlamaModel, LlamaRunner] | None = None,
) -> Speculator | None:
    """The speculator the settings ask for (``draft``: the draft model and its context),
    or ``None`` when speculation is off."""
    if settings.speculative == "off":
        return None
    if settings.kv_cache_type == "f16" and settings.n_threads > 1:
        log.warning(
            "speculative decoding on an f16 KV cache with %d threads: past 512 cells "
            "llama.cpp splits a one-row step's attention over the threads but not a "
            "verified draft's, so greedy outputs may part from those without speculation "
            'at near-ties; kv_cache_type = "q8_0" keeps them identical',
            settings.n_threads,
        )
    config = SpeculativeConfig(
        settings.speculative_tokens,
        settings.ngram_min,
        settings.ngram_max,
        settings.speculative_max_seqs,
    )
    drafter = ModelDrafter(draft[1], settings.max_batch_tokens) if draft else None
    return Speculator(config, max_model_len, runner.trim, drafter)
