"""The only module that imports llama.cpp: the model's vocabulary and metadata
(``LlamaModel``) and the batched forward pass (``LlamaRunner``).

One ``execute()`` builds one ``llama_batch`` from the scheduler's chunks, every chunk
tagged with its request's sequence id (slot), runs one ``llama_decode`` and returns one
logits row per chunk that asked to be sampled (plus one per draft token it carries). KV
cells of finished or preempted requests, and of rejected drafts, are dropped with
``llama_memory_seq_rm``.
"""

from __future__ import annotations

import ctypes
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import numpy as np
import numpy.typing as npt

from switchboard.engine.draft_model import TokenSpan
from switchboard.engine.scheduler import ScheduledChunk
from switchboard.errors import FatalError, KVCacheFullError, ModelFileError

log = logging.getLogger(__name__)

_LOG_LEVELS = {3: logging.WARNING, 4: logging.ERROR}  # ggml_log_level: 3 warn, 4 error


@llama_cpp.llama_log_callback
def _forward_log(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    if level in _LOG_LEVELS:
        log.log(_LOG_LEVELS[level], text.decode("utf-8", "replace").rstrip())


_KV_TYPES = {"f16": llama_cpp.GGML_TYPE_F16, "q8_0": llama_cpp.GGML_TYPE_Q8_0}


def _init_backend() -> None:
    llama_cpp.llama_log_set(_forward_log, ctypes.c_void_p(0))
    llama_cpp.llama_backend_init()


class LlamaModel:
    """Weights, vocabulary and GGUF metadata of one model file."""

    def __init__(self, path: Path, *, vocab_only: bool = False) -> None:
        _init_backend()
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = vocab_only
        model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
        if not model:
            raise ModelFileError(f"llama.cpp could not load {path}")
        self.path = path
        self.ptr = model
        self.vocab = llama_cpp.llama_model_get_vocab(model)
        self.n_vocab: int = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.n_ctx_train: int = llama_cpp.llama_model_n_ctx_train(model)
        self.add_bos: bool = bool(llama_cpp.llama_vocab_get_add_bos(self.vocab))
        self.add_eos: bool = bool(llama_cpp.llama_vocab_get_add_eos(self.vocab))
        self.vocab_type: int = llama_cpp.llama_vocab_type(self.vocab)
        self.bos_id: int = llama_cpp.llama_vocab_bos(self.vocab)
        self.eos_id: int = llama_cpp.llama_vocab_eos(self.vocab)
        self._pieces: list[bytes | None] = [None] * self.n_vocab
        self.eog_token_ids = frozenset(
            t for t in range(self.n_vocab) if llama_cpp.llama_vocab_is_eog(self.vocab, t)
        )
        self.bos_text = self._special_text(self.bos_id)
        self.eos_text = self._special_text(self.eos_id)
        template = llama_cpp.llama_model_chat_template(model, None)
        self.chat_template: str | None = template.decode() if template else None

    def tokenize(
        self, text: str, *, add_special: bool = True, parse_special: bool = False
    ) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buffer = (llama_cpp.llama_token * capacity)()
        n = llama_cpp.llama_tokenize(
            self.vocab, data, len(data), buffer, capacity, add_special, parse_special
        )
        if n < 0:
            raise ValueError(f"tokenizer needs {-n} tokens, more than {capacity}")
        return list(buffer[:n])

    def token_bytes(self, token_id: int) -> bytes:
        """The raw bytes of one token (special tokens render as nothing)."""
        piece = self._pieces[token_id]
        if piece is None:
            piece = self._piece(token_id, special=False)
            self._pieces[token_id] = piece
        return piece

    @functools.cached_property
    def max_token_bytes(self) -> int:
        """The longest token in bytes, special tokens as their text (a prompt of N bytes
        has at least N // this many tokens)."""
        return max(len(self.token_text(t)) for t in range(self.n_vocab))

    def token_text(self, token_id: int) -> bytes:
        """One token as llama.cpp prints it, special tokens as their text."""
        return self._piece(token_id, special=True)

    def detokenize(self, token_ids: Sequence[int]) -> str:
        return b"".join(self.token_bytes(t) for t in token_ids).decode("utf-8", "replace")

    def _piece(self, token_id: int, *, special: bool) -> bytes:
        buffer = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self.vocab, token_id, buffer, 64, 0, special)
        if n < 0:
            buffer = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self.vocab, token_id, buffer, -n, 0, special)
        return buffer.raw[:n]

    def _special_text(self, token_id: int) -> str:
        if token_id < 0:
            return ""
        return self._piece(token_id, special=True).decode("utf-8", "replace")

    def close(self) -> None:
        if self.ptr:
            llama_cpp.llama_model_free(self.ptr)
            self.ptr = None


@dataclass(frozen=True)
class RunnerConfig:
    kv_cache_tokens: int
    max_batch_tokens: int
    max_num_seqs: int
    n_threads: int
    flash_attn: bool = True
    kv_unified: bool = False
    kv_cache_type: str = "f16"


class LlamaRunner:
    """A llama.cpp context whose KV cache is shared by up to ``max_num_seqs`` sequences."""

    def __init__(self, model: LlamaModel, config: RunnerConfig) -> None:
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = config.kv_cache_tokens
        params.n_batch = config.max_batch_tokens
        params.n_ubatch = config.max_batch_tokens
        params.n_seq_max = config.max_num_seqs
        params.n_threads = config.n_threads
        params.n_threads_batch = config.n_threads
        params.kv_unified = config.kv_unified
        params.flash_attn_type = (
            llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
            if config.flash_attn
            else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        )
        params.no_perf = True
        params.type_k = params.type_v = _KV_TYPES[config.kv_cache_type]
        ctx = llama_cpp.llama_init_from_model(model.ptr, params)
        if not ctx:
            raise ModelFileError(f"llama.cpp could not create a context for {model.path}")
        self.model = model
        self.config = config
        self.ctx = ctx
        self.memory = llama_cpp.llama_get_memory(ctx)
        self.batch = llama_cpp.llama_batch_init(config.max_batch_tokens, 0, 1)
        n = config.max_batch_tokens
        self._tokens = np.ctypeslib.as_array(self.batch.token, shape=(n,))
        self._pos = np.ctypeslib.as_array(self.batch.pos, shape=(n,))
        self._n_seq = np.ctypeslib.as_array(self.batch.n_seq_id, shape=(n,))
        self._logits = np.ctypeslib.as_array(
            ctypes.cast(self.batch.logits, ctypes.POINTER(ctypes.c_int8)), shape=(n,)
        )
        self._n_seq[:] = 1

    def execute(self, chunks: Sequence[ScheduledChunk]) -> npt.NDArray[np.float32]:
        """Run one forward pass; return logits rows for the chunks with ``sample`` set, in
        the order of ``chunks``: ``1 + len(draft)`` rows each (its last token's, then each
        draft token's)."""
        spans = []
        for chunk in chunks:
            known = chunk.request.token_ids(chunk.start, chunk.start + chunk.num_tokens)
            outputs = 1 + len(chunk.draft) if chunk.sample else 0
            spans.append(TokenSpan(chunk.slot, chunk.start, [*known, *chunk.draft], outputs))
        return self.decode(spans)

    def decode(self, spans: Sequence[TokenSpan]) -> npt.NDArray[np.float32]:
        """Run one forward pass over ``spans`` (at most one per sequence); return the logits
        rows of each span's last ``outputs`` tokens, in the order of ``spans``."""
        # llama.cpp splits a multi-sequence batch into equal ubatches only while sequence
        # ids ascend; out of order it falls back to one ubatch per sequence (~3x slower).
        order = sorted(range(len(spans)), key=lambda k: spans[k].slot)
        rows_of: dict[int, range] = {}  # span index -> its logits rows, in batch order
        i, n_rows, seq_id = 0, 0, self.batch.seq_id
        for k in order:
            span = spans[k]
            n, outputs = len(span.tokens), span.outputs
            self._tokens[i : i + n] = span.tokens
            self._pos[i : i + n] = np.arange(span.start, span.start + n)
            self._logits[i : i + n - outputs] = 0
            self._logits[i + n - outputs : i + n] = 1
            for j in range(i, i + n):
                seq_id[j][0] = span.slot
            i += n
            if outputs:
                rows_of[k] = range(n_rows, n_rows + outputs)
                n_rows += outputs
        self.batch.n_tokens = i
        status = llama_cpp.llama_decode(self.ctx, self.batch)
        if status == 1:
            raise KVCacheFullError("llama.cpp found no KV slot for the batch")
        if status != 0:
            raise FatalError(f"llama_decode failed with status {status}")
        if not rows_of:
            return np.empty((0, self.model.n_vocab), dtype=np.float32)
        rows = np.ctypeslib.as_array(
            llama_cpp.llama_get_logits(self.ctx), shape=(n_rows, self.model.n_vocab)
        )
        # rows follow batch (slot) order; return them in the caller's span order
        return rows[[r for k in sorted(rows_of) for r in rows_of[k]]]

    def logprobs(self, token_ids: Sequence[int], slot: int = 0) -> npt.NDArray[np.float64]:
        """Log-probability of each token given the ones before it (``len - 1`` values),
        evaluated in ``max_batch_tokens`` chunks on sequence ``slot`` (cleared before and
        after). For measuring a model (perplexity), not for serving: no request may hold
        ``slot``."""
        n, step, seq_id = len(token_ids), self.config.max_batch_tokens, self.batch.seq_id
        out: list[npt.NDArray[np.float64]] = []
        self.free(slot)  # cells a finished request left for the next step to clear
        try:
            for start in range(0, n - 1, step):
                end = min(start + step, n - 1)
                size = end - start
                self._tokens[:size] = token_ids[start:end]
                self._pos[:size] = np.arange(start, end)
                self._logits[:size] = 1
                for j in range(size):
                    seq_id[j][0] = slot
                self.batch.n_tokens = size
                if llama_cpp.llama_decode(self.ctx, self.batch) != 0:
                    raise FatalError("llama_decode failed while scoring")
                rows = np.ctypeslib.as_array(
                    llama_cpp.llama_get_logits(self.ctx), shape=(size, self.model.n_vocab)
                ).astype(np.float64)
                peak = rows.max(axis=1, keepdims=True)
                log_norm = peak[:, 0] + np.log(np.exp(rows - peak).sum(axis=1))
                targets = np.asarray(token_ids[start + 1 : end + 1])
                out.append(rows[np.arange(size), targets] - log_norm)
        finally:
            self.free(slot)
        return np.concatenate(out) if out else np.empty(0)

    def free(self, slot: int) -> None:
        """Drop every KV cell of sequence ``slot``."""
        llama_cpp.llama_memory_seq_rm(self.memory, slot, -1, -1)

    def trim(self, slot: int, keep: int) -> None:
        """Drop the KV cells of sequence ``slot`` from position ``keep`` on (a cached
        prefix cut past its match, rejected draft tokens), within the sequence's own
        stream: no copy between streams."""
        if not llama_cpp.llama_memory_seq_rm(self.memory, slot, keep, -1):
            raise FatalError(f"llama.cpp could not trim sequence {slot} to {keep} cells")

    def copy(self, source: int, slot: int) -> None:
        """Give sequence ``slot`` the KV cells of ``source``. One pool: the cells are shared
        (``seq_cp`` within a stream). Partitioned: ``seq_cp`` between streams supports whole
        buffers only, so the sequence's state is serialized and loaded into ``slot``."""
        if self.config.kv_unified:
            llama_cpp.llama_memory_seq_rm(self.memory, slot, -1, -1)
            llama_cpp.llama_memory_seq_cp(self.memory, source, slot, -1, -1)
            return
        size = llama_cpp.llama_state_seq_get_size(self.ctx, source)
        state = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(self.ctx, state, size, source)
        if written != size or llama_cpp.llama_state_seq_set_data(self.ctx, state, size, slot) == 0:
            raise FatalError(f"llama.cpp could not copy the KV cells of sequence {source}")

    def close(self) -> None:
        if self.ctx:
            llama_cpp.llama_batch_free(self.batch)
            llama_cpp.llama_free(self.ctx)
            self.ctx = None
