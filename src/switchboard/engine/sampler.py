"""Token sampling on one logits row (numpy): penalties, then greedy or
temperature → top-k → min-p → top-p → draw.

Each request owns its ``numpy.random.Generator`` seeded from ``params.seed``, so a seeded
request draws the same tokens whether it runs alone or batched with others.

Extreme but valid parameters (a repetition penalty of 1e-300, a temperature of 1e-300)
must not produce NaN probabilities: penalized logits are kept finite, the softmax divides
by the temperature after subtracting the maximum, and non-finite logits (NaN from the model
itself) are mapped into the finite range before the softmax.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from switchboard.engine.params import SamplingParams

Logits = npt.NDArray[np.float32]
Sampler = Callable[[Logits, SamplingParams, np.random.Generator, Sequence[int], Sequence[int]], int]
"""(logits row, params, the request's generator, prompt ids, output ids) -> token id."""
_LIMIT = float(np.finfo(np.float32).max)


def apply_penalties(
    logits: Logits,
    params: SamplingParams,
    prompt_ids: Sequence[int],
    output_ids: Sequence[int],
) -> Logits:
    """Return penalized logits (a copy; the input row is left as it is)."""
    penalized = logits.astype(np.float64, copy=True)
    if params.repetition_penalty != 1.0:
        seen = np.unique(np.asarray([*prompt_ids, *output_ids], dtype=np.int64))
        values = penalized[seen]
        with np.errstate(over="ignore"):  # clipped below
            penalized[seen] = np.where(
                values > 0, values / params.repetition_penalty, values * params.repetition_penalty
            )
    if output_ids and (params.presence_penalty or params.frequency_penalty):
        ids, counts = np.unique(np.asarray(output_ids, dtype=np.int64), return_counts=True)
        penalized[ids] -= params.frequency_penalty * counts + params.presence_penalty
    return np.clip(penalized, -_LIMIT, _LIMIT).astype(np.float32)


def _softmax(x: npt.NDArray[np.float64], temperature: float) -> npt.NDArray[np.float64]:
    with np.errstate(over="ignore", under="ignore"):
        e = np.exp((x - x.max()) / temperature)
    return e / e.sum()


def sample(
    logits: Logits,
    params: SamplingParams,
    rng: np.random.Generator,
    prompt_ids: Sequence[int] = (),
    output_ids: Sequence[int] = (),
) -> int:
    if params.greedy:
        if params.penalized:
            logits = apply_penalties(logits, params, prompt_ids, output_ids)
        return int(np.argmax(logits))
    candidates, probs = distribution(logits, params, prompt_ids, output_ids)
    return int(candidates[rng.choice(len(candidates), p=probs)])


def distribution(
    logits: Logits,
    params: SamplingParams,
    prompt_ids: Sequence[int] = (),
    output_ids: Sequence[int] = (),
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The token ids a non-greedy ``sample`` can draw and their probabilities (sum 1)."""
    if params.penalized:
        logits = apply_penalties(logits, params, prompt_ids, output_ids)
    candidates = np.arange(logits.shape[0])
    scores = logits
    if 0 < params.top_k < scores.shape[0]:
        keep = np.argpartition(scores, -params.top_k)[-params.top_k :]
        candidates, scores = keep, scores[keep]
    finite = np.nan_to_num(scores.astype(np.float64), nan=-_LIMIT, posinf=_LIMIT, neginf=-_LIMIT)
    probs = _softmax(finite, params.temperature)

    if params.min_p > 0.0:
        keep_mask = probs >= params.min_p * probs.max()
        candidates, probs = candidates[keep_mask], probs[keep_mask]
    if params.top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        cumulative = np.cumsum(probs[order])
        cutoff = int(np.searchsorted(cumulative, params.top_p * cumulative[-1])) + 1
        order = order[:cutoff]
        candidates, probs = candidates[order], probs[order]
    return candidates, probs / probs.sum()
