"""Re-ranking: a pluggable stage that re-scores the first fused candidates of a query.

    Reranker (protocol)
    ├── PRFReranker            default: dense pseudo-relevance feedback (Rocchio), no model call
    └── CrossEncoderReranker   any local cross-encoder: an ONNX folder or sentence-transformers

``PRFReranker`` moves the query vector towards the centroid of the top ``feedback`` fused
candidates, ``q' = q + weight * mean(top feedback)``, and re-scores every candidate by
cosine to ``q'``. Keywords and the dense neighbourhood both shape the feedback set, so a
candidate close to what the strongest hits have in common rises. It reads the candidates'
stored vectors; it never calls a model. Measured on MS MARCO in benchmarks/README.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Candidate:
    """What a re-ranker may read about one candidate chunk."""

    chunk_id: str
    text: str
    vector: Vectors


class Reranker(Protocol):
    name: str

    def scores(
        self, query: str, query_vector: Vectors, candidates: Sequence[Candidate]
    ) -> list[float]:
        """One score per candidate, higher is better; candidates come best-first."""
        ...


class PRFReranker:
    name = "prf"

    def __init__(self, *, feedback: int = 3, weight: float = 1.0) -> None:
        if feedback < 1 or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"feedback must be >= 1 and weight finite and >= 0, got {weight}")
        self.feedback = feedback
        self.weight = weight

    def scores(
        self, query: str, query_vector: Vectors, candidates: Sequence[Candidate]
    ) -> list[float]:
        if not candidates:
            return []
        matrix = np.stack([c.vector for c in candidates]).astype(np.float32)
        centroid = matrix[: self.feedback].mean(axis=0)
        expanded = query_vector + self.weight * centroid
        expanded /= max(float(np.linalg.norm(expanded)), 1e-12)
        return [float(s) for s in matrix @ expanded]


class CrossEncoderReranker:
    """A cross-encoder from a local path, scoring (query, passage) pairs jointly.

    A folder with ``model.onnx`` and ``tokenizer.json`` (e.g. an ms-marco MiniLM exported
    with Optimum) runs on ONNX Runtime; any other path is loaded with
    sentence-transformers' ``CrossEncoder`` if that package is installed.
    """

    name = "cross-encoder"

    def __init__(self, path: Path, *, n_threads: int = 2, max_length: int = 512) -> None:
        if not path.exists():
            raise ValueError(f"cross-encoder path {path} does not exist")
        self._score_pairs = (
            _OnnxPairScorer(path, n_threads, max_length)
            if (path / "model.onnx").is_file()
            else _sentence_transformers_scorer(path, max_length)
        )

    def scores(
        self, query: str, query_vector: Vectors, candidates: Sequence[Candidate]
    ) -> list[float]:
        if not candidates:
            return []
        return self._score_pairs([(query, c.text) for c in candidates])


class _OnnxPairScorer:
    def __init__(self, path: Path, n_threads: int, max_length: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = n_threads
        self._session = ort.InferenceSession(
            str(path / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}

    def __call__(self, pairs: list[tuple[str, str]]) -> list[float]:
        encodings = self._tokenizer.encode_batch(pairs)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        (logits,) = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})
        return relevance_scores(logits, len(pairs))


def _sentence_transformers_scorer(path: Path, max_length: int) -> _PairScorer:
    try:
        from sentence_transformers import CrossEncoder  # type: ignore[import-not-found]
    except ImportError:
        raise ValueError(
            f"{path} has no model.onnx and sentence-transformers is not installed; "
            "export the cross-encoder to ONNX or `pip install sentence-transformers`"
        ) from None
    model = CrossEncoder(str(path), max_length=max_length, device="cpu")

    def score(pairs: list[tuple[str, str]]) -> list[float]:
        return relevance_scores(model.predict(pairs, show_progress_bar=False), len(pairs))

    return score


def relevance_scores(logits: npt.ArrayLike, pairs: int) -> list[float]:
    """One score per pair from a cross-encoder's output: its single logit, or for
    ``[irrelevant, relevant]`` logits their difference, the log-odds of relevance (the
    relevant logit alone does not order pairs by their probability of relevance)."""
    matrix = np.asarray(logits, dtype=np.float32).reshape(pairs, -1)
    column = matrix[:, 1] - matrix[:, 0] if matrix.shape[1] == 2 else matrix[:, -1]
    return [float(x) for x in column]


class _PairScorer(Protocol):
    def __call__(self, pairs: list[tuple[str, str]]) -> list[float]: ...
