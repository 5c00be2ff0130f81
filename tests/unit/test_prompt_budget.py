import pytest

from switchboard.assistant.prompt_budget import (
    BuiltPrompt,
    Citation,
    Message,
    PromptBudget,
    PromptInputs,
    PromptTooLongError,
    Role,
    SourceChunk,
    Turn,
    build_prompt,
)
from switchboard.errors import ContextLengthError

pytestmark = pytest.mark.unit

SYSTEM = "You are a support assistant."  # 5 words
USER = "where is my order"  # 4 words
BASE = 5 + 4 + 4 + 4  # system + user, 4 tokens of template per message


def count(messages: list[Message]) -> int:
    """A fake chat template: whitespace words plus 4 tokens per message."""
    return sum(len(m["content"].split()) + 4 for m in messages)


def chunk(name: str, words: int = 3) -> SourceChunk:
    return SourceChunk(
        article_id=f"art-{name}",
        title=f"Title{name}",
        url=f"https://help.example/{name}",
        text=" ".join([name] * words),
    )


def turns(n: int, words: int = 3) -> list[Turn]:
    roles = (Role.USER, Role.ASSISTANT)
    return [Turn(roles[i % 2], " ".join([f"t{i}"] * words)) for i in range(n)]


def build(limit: int, **parts: object) -> BuiltPrompt:
    inputs = PromptInputs(system=SYSTEM, user_message=USER, **parts)  # type: ignore[arg-type]
    return build_prompt(inputs, PromptBudget(max_model_len=limit + 100, max_tokens=100), count)


def assert_within(built: BuiltPrompt, limit: int) -> None:
    assert built.prompt_tokens == count(built.messages)
    assert built.prompt_tokens <= limit


def test_tiny_window_keeps_only_system_and_user() -> None:
    built = build(BASE, tool_results=["status: shipped"], chunks=[chunk("a")], history=turns(4))
    assert built.messages == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": USER},
    ]
    assert built.prompt_tokens == BASE
    assert built.included_chunks == []
    assert built.dropped_chunks == [chunk("a")]
    assert built.included_turns == []
    assert built.dropped_turns == turns(4)
    assert built.tool_results_included == 0
    assert built.citations == []


def test_too_tiny_window_raises_with_the_numbers() -> None:
    inputs = PromptInputs(system=SYSTEM, user_message=USER)
    budget = PromptBudget(max_model_len=BASE - 1 + 50, max_tokens=50)
    with pytest.raises(PromptTooLongError) as info:
        build_prompt(inputs, budget, count)
    error = info.value
    assert isinstance(error, ValueError)
    assert isinstance(error, ContextLengthError)
    assert (error.prompt_tokens, error.max_tokens, error.limit) == (BASE, 50, BASE - 1 + 50)
    assert error.requested == BASE + 50
    assert f"alone take {BASE} prompt tokens" in str(error)
    assert f"budget of {BASE - 1} prompt tokens" in str(error)


def test_huge_chunk_is_skipped_and_later_chunks_are_numbered_contiguously() -> None:
    chunks = [chunk("a"), chunk("huge", words=1000), chunk("c")]
    built = build(200, chunks=chunks)
    assert built.included_chunks == [chunk("a"), chunk("c")]
    assert built.dropped_chunks == [chunk("huge", words=1000)]
    assert built.citations == [
        Citation(1, "art-a", "Titlea", "https://help.example/a", quote="a a a"),
        Citation(2, "art-c", "Titlec", "https://help.example/c", quote="c c c"),
    ]
    assert built.messages[0] == {"role": "system", "content": SYSTEM}
    assert built.messages[-1]["content"] == (
        "Sources:\n"
        "[1] Titlea (https://help.example/a)\na a a\n\n"
        "[2] Titlec (https://help.example/c)\nc c c\n\n"
        f"Question: {USER}"
    )
    assert_within(built, 200)


def test_long_history_keeps_the_newest_whole_turns() -> None:
    history = turns(20)  # 7 tokens each, user and assistant alternating
    limit = BASE + 6 * 7 + 6  # room for 6 turns and most of a seventh
    built = build(limit, history=history)
    assert built.included_turns == history[-6:]
    assert built.dropped_turns == history[:-6]
    assert built.messages[1:-1] == [
        {"role": str(t.role), "content": t.content} for t in history[-6:]
    ]
    assert built.messages[-1] == {"role": "user", "content": USER}
    assert_within(built, limit)


def test_kept_history_never_starts_with_an_answer() -> None:
    history = turns(4)  # user, assistant, user, assistant; 7 tokens each
    built = build(BASE + 3 * 7, history=history)  # room for three
    assert built.included_turns == history[2:]
    assert built.dropped_turns == history[:2]
    assert built.messages[1]["role"] == "user"
    assert_within(built, BASE + 3 * 7)


def test_history_is_a_contiguous_suffix_even_if_an_older_small_turn_would_fit() -> None:
    history = [*turns(1), Turn(Role.ASSISTANT, "x " * 50), *turns(2)]
    built = build(BASE + 2 * 7 + 10, history=history)
    assert built.included_turns == history[-2:]
    assert built.dropped_turns == history[:2]


def test_empty_retrieval_has_no_sources_section() -> None:
    built = build(500, tool_results=["order 42: shipped"], history=turns(2))
    user = built.messages[-1]["content"]
    assert "Sources:" not in user
    assert user == f"Tool results:\norder 42: shipped\n\nQuestion: {USER}"
    assert built.citations == []
    assert built.included_chunks == built.dropped_chunks == []


def test_tool_results_take_priority_over_chunks_and_come_first() -> None:
    tool = "order 42: shipped via DHL"  # 5 words
    limit = BASE + 2 + 5 + 1  # "Tool results:" header is 2 words, "Question:" 1
    built = build(limit, tool_results=[tool], chunks=[chunk("a")])
    assert built.tool_results_included == 1
    assert built.included_chunks == []
    assert built.prompt_tokens == limit

    roomy = build(500, tool_results=[tool], chunks=[chunk("a")])
    user = roomy.messages[-1]["content"]
    assert user.index("Tool results:") < user.index("Sources:") < user.index("Question:")


def test_tool_results_are_a_prefix_in_order() -> None:
    tools = ["first result", "huge " * 500, "third result"]
    built = build(200, tool_results=tools)
    assert built.tool_results_included == 1
    assert "third result" not in built.messages[-1]["content"]


@pytest.mark.parametrize("slack", [0, -1])
def test_exact_budget_boundary(slack: int) -> None:
    full = build(10_000, tool_results=["ok"], chunks=[chunk("a")], history=turns(3))
    limit = full.prompt_tokens + slack
    built = build(limit, tool_results=["ok"], chunks=[chunk("a")], history=turns(3))
    if slack == 0:
        assert built.messages == full.messages
        assert built.prompt_tokens == limit
    else:  # one token short: the oldest turn goes, and the answer it leaves without its
        # question goes with it: the history starts with a user message
        assert built.included_turns == turns(3)[2:]
        assert built.dropped_turns == turns(3)[:2]
    assert_within(built, limit)


@pytest.mark.parametrize("slack", [0, -1])
def test_exact_budget_boundary_for_a_chunk(slack: int) -> None:
    limit = BASE + 1 + 3 + 3 + 1 + slack  # "Sources:", "[1] Titlea (url)", "a a a", "Question:"
    built = build(limit, chunks=[chunk("a")])
    assert len(built.included_chunks) == (1 if slack == 0 else 0)
    assert built.prompt_tokens == (limit if slack == 0 else BASE)
    assert_within(built, limit)


def test_prompt_tokens_are_exact_and_within_budget_for_every_limit() -> None:
    parts: dict[str, object] = {
        "tool_results": ["a b c", "d e"],
        "chunks": [chunk("a", 5), chunk("b", 40), chunk("c", 2)],
        "history": turns(6, words=4),
    }
    previous = 0
    for limit in range(BASE, 200):
        built = build(limit, **parts)
        assert_within(built, limit)
        assert built.prompt_tokens >= previous
        previous = built.prompt_tokens
        assert [c.number for c in built.citations] == list(range(1, len(built.citations) + 1))


def test_counts_each_candidate_once() -> None:
    calls: list[int] = []

    def counting(messages: list[Message]) -> int:
        calls.append(1)
        return count(messages)

    inputs = PromptInputs(
        system=SYSTEM,
        user_message=USER,
        tool_results=["x"],
        chunks=[chunk("a"), chunk("b")],
        history=turns(5),
    )
    build_prompt(inputs, PromptBudget(max_model_len=1000, max_tokens=10), counting)
    assert len(calls) == 1 + 1 + 2 + 5


@pytest.mark.parametrize(("max_model_len", "max_tokens"), [(100, 100), (100, -1)])
def test_invalid_budget_is_rejected(max_model_len: int, max_tokens: int) -> None:
    with pytest.raises(ValueError, match="max_"):
        PromptBudget(max_model_len=max_model_len, max_tokens=max_tokens)


def test_a_citation_quotes_its_source_passage_with_offsets() -> None:
    source = SourceChunk(
        "returns-window",
        "How long do I have to return an item?",
        "https://help.example/returns-window",
        "You can return most items within 30 days.",
        heading="The 30 days",
        start=10,
        end=51,
    )

    (citation,) = build(500, chunks=[source]).citations

    assert citation.quote == source.text
    assert (citation.start, citation.end, citation.heading) == (10, 51, "The 30 days")
