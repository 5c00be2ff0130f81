import numpy as np
import pytest

from switchboard.engine.params import SamplingParams
from switchboard.engine.sampler import apply_penalties, sample
from switchboard.errors import InvalidRequestError

pytestmark = pytest.mark.unit

LOGITS = np.array([1.0, 3.0, 2.0, 0.5, -1.0], dtype=np.float32)


def draws(params: SamplingParams, n: int = 400, seed: int = 0) -> set[int]:
    rng = np.random.default_rng(seed)
    return {sample(LOGITS, params, rng) for _ in range(n)}


def test_greedy_is_argmax() -> None:
    assert sample(LOGITS, SamplingParams(temperature=0), np.random.default_rng()) == 1


def test_top_k_limits_candidates() -> None:
    assert draws(SamplingParams(temperature=1.0, top_k=2)) == {1, 2}


def test_top_p_limits_candidates() -> None:
    # softmax(LOGITS): 1 -> 0.61, 2 -> 0.22, 0 -> 0.08 ...
    assert draws(SamplingParams(temperature=1.0, top_p=0.5)) == {1}
    assert draws(SamplingParams(temperature=1.0, top_p=0.8)) == {1, 2}


def test_min_p_limits_candidates() -> None:
    assert draws(SamplingParams(temperature=1.0, min_p=0.3)) == {1, 2}


def test_full_distribution_reaches_every_token() -> None:
    assert draws(SamplingParams(temperature=1.5), n=3000) == {0, 1, 2, 3, 4}


def test_seed_makes_draws_repeatable() -> None:
    params = SamplingParams(temperature=1.0, seed=7)
    a = [sample(LOGITS, params, np.random.default_rng(7)) for _ in range(1)]
    rng1, rng2 = np.random.default_rng(7), np.random.default_rng(7)
    seq1 = [sample(LOGITS, params, rng1) for _ in range(50)]
    seq2 = [sample(LOGITS, params, rng2) for _ in range(50)]
    assert seq1 == seq2
    assert a[0] == seq1[0]


def test_repetition_penalty_divides_positive_multiplies_negative() -> None:
    out = apply_penalties(LOGITS, SamplingParams(repetition_penalty=2.0), [1], [4])
    assert out[1] == pytest.approx(1.5)
    assert out[4] == pytest.approx(-2.0)
    assert out[2] == pytest.approx(2.0)
    assert LOGITS[1] == pytest.approx(3.0)  # input untouched


def test_presence_and_frequency_penalties_use_output_counts() -> None:
    params = SamplingParams(presence_penalty=0.5, frequency_penalty=0.25)
    out = apply_penalties(LOGITS, params, [2, 2, 2], [1, 1, 3])
    assert out[1] == pytest.approx(3.0 - 0.5 - 0.5)
    assert out[3] == pytest.approx(0.5 - 0.5 - 0.25)
    assert out[2] == pytest.approx(2.0)  # prompt tokens are not penalized


def test_penalty_changes_greedy_choice() -> None:
    params = SamplingParams(temperature=0, frequency_penalty=2.0)
    token = sample(LOGITS, params, np.random.default_rng(), output_ids=[1])
    assert token == 2


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"temperature": 3.0}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_k": -1}, "top_k"),
        ({"min_p": 1.5}, "min_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"presence_penalty": 5.0}, "presence_penalty"),
        ({"frequency_penalty": -3.0}, "frequency_penalty"),
        ({"repetition_penalty": 0.0}, "repetition_penalty"),
        ({"stop": ("a", "b", "c", "d", "e")}, "stop"),
        ({"stop": ("",)}, "stop"),
    ],
)
def test_invalid_params_name_the_parameter(kwargs: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        SamplingParams(**kwargs)  # type: ignore[arg-type]
    assert info.value.param == param


@pytest.mark.parametrize(
    "kwargs",
    [
        {"repetition_penalty": 5e-324, "temperature": 0.7},
        {"repetition_penalty": 5e-324},  # greedy
        {"repetition_penalty": 10.0, "temperature": 1e-300},
        {"temperature": 1e-300, "top_p": 1e-300},
        {"temperature": 2.0, "min_p": 1.0},
        {"frequency_penalty": 2.0, "presence_penalty": -2.0, "temperature": 2.0},
    ],
)
def test_extreme_valid_parameters_still_draw_a_token(kwargs: dict[str, float]) -> None:
    # Found by the API fuzzer: a repetition penalty of 5e-324 made NaN probabilities and
    # the engine loop died, taking every request with it.
    logits = np.array([3.0, -2.0, 0.5, 7.0, -1e30, 1e30], dtype=np.float32)
    params = SamplingParams(seed=1, **kwargs)  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    token = sample(logits, params, rng, prompt_ids=[0, 3, 5], output_ids=[3, 2])
    assert 0 <= token < len(logits)


def test_nan_logits_fall_back_to_the_most_likely_finite_token() -> None:
    logits = np.array([np.nan, 1.0, 2.0, np.nan], dtype=np.float32)
    token = sample(logits, SamplingParams(temperature=1.0, seed=1), np.random.default_rng(0))
    assert token == 2
