import pytest
from pydantic import ValidationError

from switchboard.engine import SamplingParams
from switchboard.engine.request import RequestTimings
from switchboard.errors import InvalidRequestError
from switchboard.gateway.openai_requests import (
    ChatCompletionRequest,
    CompletionRequest,
    to_sampling_params,
)
from switchboard.gateway.openai_responses import (
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatDelta,
    Timings,
    Usage,
)
from switchboard.request_body import describe_validation_error

pytestmark = pytest.mark.unit

USER = {"role": "user", "content": "hi"}


def chat(**fields: object) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "m", "messages": [USER], **fields})


def completion(**fields: object) -> CompletionRequest:
    return CompletionRequest.model_validate({"model": "m", "prompt": "once", **fields})


def test_minimal_chat_request_maps_to_openai_defaults() -> None:
    params = to_sampling_params(chat())
    assert params == SamplingParams(max_tokens=None, temperature=1.0, top_p=1.0)
    assert params.max_tokens is None  # fill the context window


def test_sampling_fields_and_extensions_are_mapped() -> None:
    params = to_sampling_params(
        chat(
            max_tokens=7,
            temperature=0,
            top_p=0.5,
            seed=3,
            presence_penalty=0.5,
            frequency_penalty=-0.5,
            top_k=40,
            min_p=0.1,
            repetition_penalty=1.1,
            ignore_eos=True,
            stop_token_ids=[5, 6],
            stop=["a", "b"],
        )
    )
    assert params == SamplingParams(
        max_tokens=7,
        temperature=0.0,
        top_p=0.5,
        seed=3,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        top_k=40,
        min_p=0.1,
        repetition_penalty=1.1,
        ignore_eos=True,
        stop_token_ids=(5, 6),
        stop=("a", "b"),
    )


def test_stop_string_becomes_a_one_element_tuple() -> None:
    assert to_sampling_params(chat(stop="\n")).stop == ("\n",)
    assert to_sampling_params(chat(stop=None)).stop == ()


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    assert to_sampling_params(chat(max_tokens=5, max_completion_tokens=9)).max_tokens == 9
    assert to_sampling_params(chat(max_tokens=5)).max_tokens == 5


def test_completion_defaults_to_16_tokens_and_null_fills_the_window() -> None:
    assert to_sampling_params(completion()).max_tokens == 16
    assert to_sampling_params(completion(max_tokens=None)).max_tokens is None


@pytest.mark.parametrize(
    ("field", "inside", "outside"),
    [
        ("max_tokens", 1, 0),
        ("temperature", 2.0, 2.01),
        ("top_p", 1.0, 0.0),
        ("seed", 2**63 - 1, 2**63),
        ("presence_penalty", -2.0, -2.01),
        ("frequency_penalty", 2.0, 2.01),
        ("top_k", -1, -2),
        ("min_p", 1.0, 1.01),
        ("repetition_penalty", 10.0, 0.0),
        ("max_completion_tokens", 1, 0),
    ],
)
def test_the_request_has_the_engines_sampling_ranges(
    field: str, inside: object, outside: object
) -> None:
    to_sampling_params(chat(**{field: inside}))  # the engine takes the documented bound
    with pytest.raises(ValidationError) as info:
        chat(**{field: outside})
    assert info.value.errors()[0]["loc"] == (field,)


def test_out_of_range_sampling_values_raise_with_the_param() -> None:
    with pytest.raises(InvalidRequestError) as info:
        SamplingParams(temperature=5)
    assert info.value.param == "temperature"


def test_text_content_parts_are_joined() -> None:
    parts = [{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}]
    req = ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": parts}]}
    )
    assert req.messages[0].content == "Hello, world"
    assert req.messages[0].to_template() == {"role": "user", "content": "Hello, world"}


def test_null_assistant_content_is_empty_text() -> None:
    req = chat(messages=[USER, {"role": "assistant", "content": None}])
    assert req.messages[1].content == ""


@pytest.mark.parametrize(
    "content",
    [
        [{"type": "image_url", "image_url": {"url": "http://x"}}],
        [{"type": "text"}],
        ["plain string part"],
        42,
    ],
)
def test_non_text_content_is_rejected(content: object) -> None:
    with pytest.raises(ValidationError):
        chat(messages=[{"role": "user", "content": content}])


def test_unknown_role_is_rejected() -> None:
    with pytest.raises(ValidationError):
        chat(messages=[{"role": "robot", "content": "x"}])


def test_n_above_one_is_rejected() -> None:
    assert chat(n=1).n == 1
    with pytest.raises(ValidationError, match="only n=1 is supported"):
        chat(n=2)


def test_empty_messages_are_rejected() -> None:
    with pytest.raises(ValidationError, match="at least one message"):
        chat(messages=[])


@pytest.mark.parametrize(
    "field",
    [{"logit_bias": {"1": 2}}, {"frobnicate": 1}, {"functions": []}, {"tool_choice": "required"}],
)
def test_parameters_the_engine_cannot_honour_are_refused_by_name(field: dict[str, object]) -> None:
    (name,) = field
    with pytest.raises(ValidationError) as refused:
        chat(**field)
    message, param = describe_validation_error(refused.value.errors()[0])
    assert param == name
    if name in ("frobnicate", "functions"):
        assert message == f"Unrecognized request argument supplied: {name}"
    with pytest.raises(ValidationError):
        completion(**field)


def test_harmless_fields_clients_commonly_send_are_accepted() -> None:
    harmless = {
        "user": "u1",
        "metadata": {"team": "web"},
        "store": False,
        "service_tier": "auto",
        "parallel_tool_calls": False,
        "logit_bias": {},
        "tool_choice": "none",
        "top_logprobs": None,
    }
    assert chat(**harmless).user == "u1"
    assert chat(logit_bias=None, tool_choice="auto").messages
    # a replayed assistant message keeps its SDK fields (refusal, tool_calls: null...)
    replay = {"role": "assistant", "content": "hi", "refusal": None, "audio": None}
    assert chat(messages=[USER, replay]).messages[1].content == "hi"


@pytest.mark.parametrize("bad", ["a\ud800b", "\udfff", "ok \ud83d"])
def test_a_lone_surrogate_is_refused_where_it_stands(bad: str) -> None:
    with pytest.raises(ValidationError) as refused:
        chat(messages=[USER, {"role": "user", "content": bad}])
    assert describe_validation_error(refused.value.errors()[0])[1] == "messages[1].content"
    with pytest.raises(ValidationError) as refused:
        completion(prompt=bad)
    assert describe_validation_error(refused.value.errors()[0])[1] == "prompt"
    assert chat(messages=[{"role": "user", "content": "emoji \U0001f600 ok"}]).messages


def test_stream_options_include_usage() -> None:
    assert chat(stream=True, stream_options={"include_usage": True}).include_usage
    assert not chat(stream=True).include_usage


@pytest.mark.parametrize(
    ("prompt", "text", "ids"),
    [("abc", "abc", []), (["abc"], "abc", []), ([1, 2, 3], None, [1, 2, 3])],
)
def test_completion_prompt_forms(prompt: object, text: str | None, ids: list[int]) -> None:
    req = completion(prompt=prompt)
    assert req.prompt_text == text
    if text is None:
        assert req.prompt_token_ids == ids


@pytest.mark.parametrize("prompt", [["a", "b"], [], None, [False], [1, True]])
def test_bad_completion_prompts_are_rejected(prompt: object) -> None:
    with pytest.raises(ValidationError):
        completion(prompt=prompt)


@pytest.mark.parametrize(
    "field", [{"echo": True}, {"logprobs": 2}, {"suffix": "end"}, {"best_of": 3}]
)
def test_unsupported_completion_options_are_rejected(field: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="supported"):
        completion(**field)


def test_falsy_unsupported_options_are_accepted() -> None:
    req = completion(echo=False, logprobs=None, suffix="", best_of=1)
    assert req.best_of == 1


def test_timings_are_reported_in_milliseconds() -> None:
    t = RequestTimings(arrival=10.0, first_scheduled=10.5, first_token=11.0, finished=12.0)
    t.inter_token_s.extend([0.1, 0.3])
    timings = Timings.of(t)
    assert timings == Timings(queue_ms=500.0, ttft_ms=1000.0, total_ms=2000.0, mean_itl_ms=200.0)
    assert Timings.of(RequestTimings(arrival=0.0)).mean_itl_ms is None


def test_chunks_omit_unset_delta_fields_usage_and_timings() -> None:
    chunk = ChatCompletionChunk(
        id="c", created=1, model="m", choices=[ChatChunkChoice(delta=ChatDelta())]
    )
    data = chunk.model_dump(mode="json")
    assert data["choices"] == [{"index": 0, "delta": {}, "finish_reason": None, "logprobs": None}]
    assert "usage" not in data
    assert "timings" not in data
    with_usage = chunk.model_copy(update={"choices": [], "usage": Usage.of(3, 4)})
    assert with_usage.model_dump()["usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
    }


def test_tools_and_structured_output_are_refused_not_dropped() -> None:
    tool = {"type": "function", "function": {"name": "lookup_order", "parameters": {}}}
    with pytest.raises(ValidationError, match="tool calling is not supported"):
        chat(tools=[tool])
    with pytest.raises(ValidationError, match="response_format"):
        chat(response_format={"type": "json_object"})
    assert chat(tools=[], response_format={"type": "text"}).messages


def test_top_k_minus_one_means_disabled() -> None:
    assert to_sampling_params(chat(top_k=-1)).top_k == 0


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"parallel_tool_calls": 0}, "parallel_tool_calls"),  # found by the API fuzzer
        ({"stream": 1}, "stream"),
        ({"max_tokens": True}, "max_tokens"),
        ({"max_tokens": "16"}, "max_tokens"),
        ({"temperature": "0.7"}, "temperature"),
        ({"stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
    ],
)
def test_values_must_have_their_documented_json_type(fields: dict[str, object], param: str) -> None:
    with pytest.raises(ValidationError) as caught:
        chat(**fields)
    assert describe_validation_error(caught.value.errors()[0])[1] == param


def test_an_integer_is_a_valid_float() -> None:
    assert chat(temperature=1).temperature == 1.0


def test_enum_fields_of_strict_bodies_take_their_json_values() -> None:
    from switchboard.api.admin_routes import CreateKeyBody
    from switchboard.api.knowledge_schemas import SearchRequestBody

    assert CreateKeyBody.model_validate({"scopes": ["chat", "admin"]}).scopes == ["chat", "admin"]
    body = SearchRequestBody.model_validate({"collection": "c", "query": "q", "mode": "bm25"})
    assert body.mode == "bm25"
    with pytest.raises(ValidationError):
        SearchRequestBody.model_validate({"collection": "c", "query": "q", "rerank": "yes"})


def test_the_document_states_every_content_a_message_may_have() -> None:
    # Found by the API fuzzer: null and text parts were accepted but documented as a string.
    from switchboard.gateway.openai_requests import ChatMessage

    content = ChatMessage.model_json_schema()["properties"]["content"]
    kinds = {variant["type"] for variant in content["anyOf"]}
    assert kinds == {"string", "array", "null"}
    for accepted in (None, "hi", [{"type": "text", "text": "hi"}]):
        ChatMessage.model_validate({"role": "user", "content": accepted})
