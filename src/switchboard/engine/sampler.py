"""Token sampling on one logits row (numpy): penalties, then greedy or
temperature → top-k → min-p → top-p → draw.

Each request owns its ``numpy.random.Generator`` seeded from ``params.seed``, so a seeded
request draws the same tokens whether it runs alone or batched with others.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from switchboard.engine.params import SamplingParams

Logits = npt.NDArray[np.float32]


def apply_penalties(
    logits: Logits,
    params: SamplingParams,
    prompt_ids: Sequence[int],
    output_ids: Sequence[int],
) -> Logits:
    """Return penalized logits (a copy; the input row is left as it is)."""
    logits = logits.astype(np.float32, copy=True)
    if params.repetition_penalty != 1.0:
        seen = np.unique(np.asarray([*prompt_ids, *output_ids], dtype=np.int64))
        values = logits[seen]
        logits[seen] = np.where(
            values > 0, values / params.repetition_penalty, values * params.repetition_penalty
        )
    if output_ids and (params.presence_penalty or params.frequency_penalty):
        ids, counts = np.unique(np.asarray(output_ids, dtype=np.int64), return_counts=True)
        logits[ids] -= params.frequency_penalty * counts + params.presence_penalty
    return logits


def _softmax(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    e = np.exp(x - x.max())
    return e / e.sum()


def sample(
    logits: Logits,
    params: SamplingParams,
    rng: np.random.Generator,
    prompt_ids: Sequence[int] = (),
    output_ids: Sequence[int] = (),
) -> int:
    if params.penalized:
        logits = apply_penalties(logits, params, prompt_ids, output_ids)
    if params.greedy:
        return int(np.argmax(logits))

    candidates = np.arange(logits.shape[0])
    scores = logits
    if 0 < params.top_k < scores.shape[0]:
        keep = np.argpartition(scores, -params.top_k)[-params.top_k :]
        candidates, scores = keep, scores[keep]
    probs = _softmax(scores.astype(np.float64) / params.temperature)

    if params.min_p > 0.0:
        keep_mask = probs >= params.min_p * probs.max()
        candidates, probs = candidates[keep_mask], probs[keep_mask]
    if params.top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        cumulative = np.cumsum(probs[order])
        cutoff = int(np.searchsorted(cumulative, params.top_p * cumulative[-1])) + 1
        order = order[:cutoff]
        candidates, probs = candidates[order], probs[order]
    probs = probs / probs.sum()
    return int(candidates[rng.choice(len(candidates), p=probs)])
