from __future__ import annotations

import itertools
import random

import pytest

from switchboard.rag.chunking import Chunker, ChunkingSettings, TokenCounter
from switchboard.rag.sections import split_sections
from switchboard.rag.types import Chunk, Document, chunk_embedding_text

pytestmark = pytest.mark.unit


def words(text: str) -> int:
    """The fake tokenizer: one token per whitespace-separated word."""
    return len(text.split())


class Recorder:
    """A word counter that remembers how many characters it was asked to count."""

    def __init__(self) -> None:
        self.chars = 0

    def __call__(self, text: str) -> int:
        self.chars += len(text)
        return words(text)


def doc(text: str, title: str = "Doc") -> Document:
    return Document(id="d1", title=title, source="d1.md", text=text, content_hash="h")


def chunk(text: str, size: int = 8, overlap: int = 0, counter: TokenCounter = words) -> list[Chunk]:
    return Chunker(counter, ChunkingSettings(size, overlap)).chunk(doc(text))


def check_invariants(
    text: str, chunks: list[Chunk], size: int, counter: TokenCounter = words
) -> None:
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert c.document_id == "d1"
        assert c.text == text[c.start : c.end]
        assert c.text
        assert c.text == c.text.strip()
        assert c.token_count == counter(c.text) <= size
        assert c.id == f"d1#{c.index}"


def sentences(n: int, words_each: int = 5, tag: str = "s") -> str:
    return " ".join(
        " ".join(f"{tag}{i}w{j}" for j in range(words_each - 1)) + f" {tag}{i}end."
        for i in range(n)
    )


# --- settings -------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (8, 8), (8, 9), (8, -1)])
def test_settings_reject_bad_values(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="_tokens"):
        ChunkingSettings(chunk_tokens=size, overlap_tokens=overlap)


def test_default_settings() -> None:
    settings = ChunkingSettings()
    assert settings.chunk_tokens == 256
    assert 0 < settings.overlap_tokens < settings.chunk_tokens


# --- structure ------------------------------------------------------------------------


def test_short_document_is_one_chunk_with_its_headings() -> None:
    text = "# Title\n\nShort intro.\n\n## Part\n\nA few words."
    chunks = chunk(text, size=50)
    assert len(chunks) == 1
    assert chunks[0].text == text
    assert chunks[0].heading_path == ()
    check_invariants(text, chunks, 50)


def test_empty_text_gives_no_chunks() -> None:
    assert chunk("") == []
    assert chunk(" \n\n ") == []


def test_heading_paths_follow_nesting() -> None:
    body = sentences(3)
    text = (
        f"Preamble {body}\n\n# Policy\n\n{body}\n\n## Returns\n\n{body}\n\n"
        f"### Refund timeline\n\n{body}\n\n## Shipping ##\n\n{body}\n\n# Other\n\n{body}"
    )
    chunks = chunk(text, size=8)
    check_invariants(text, chunks, 8)
    paths = list(dict.fromkeys(c.heading_path for c in chunks))
    assert paths == [
        (),
        ("Policy",),
        ("Policy", "Returns"),
        ("Policy", "Returns", "Refund timeline"),
        ("Policy", "Shipping"),
        ("Other",),
    ]
    assert all("#" not in c.text for c in chunks)  # heading lines are not chunk text


def test_empty_sections_yield_no_chunks() -> None:
    text = f"# A\n\n## B\n\n### C\n\n{sentences(3)}\n\n## D\n\n# E\n\n{sentences(3)}"
    chunks = chunk(text, size=8)
    check_invariants(text, chunks, 8)
    assert {c.heading_path for c in chunks} == {("A", "B", "C"), ("E",)}


def test_headings_only_document_still_yields_chunks() -> None:
    text = "\n\n".join(f"# Heading number {i}" for i in range(5))
    chunks = chunk(text, size=4)
    check_invariants(text, chunks, 4)
    assert " ".join(c.text for c in chunks).split() == text.split()


def test_hash_lines_in_code_fences_are_not_headings() -> None:
    text = "# Setup\n\n```bash\n# install\n\npip install x\n```\n\n" + sentences(4)
    sections = split_sections(text)
    assert [s.heading_path for s in sections] == [("Setup",)]
    code = sections[0].paragraphs[0]
    assert text[code[0] : code[1]] == "```bash\n# install\n\npip install x\n```"


def test_hashtags_and_empty_hashes_are_not_headings() -> None:
    sections = split_sections("#hashtag text\n\n#\n\nmore")
    assert [s.heading_path for s in sections] == [()]
    assert len(sections[0].paragraphs) == 3


# --- packing and splitting ------------------------------------------------------------


def test_paragraphs_are_packed_greedily_and_kept_whole() -> None:
    paragraphs = ["one two three", "four five", "six seven eight", "nine"]
    text = "\n\n".join(paragraphs)
    chunks = chunk(text, size=5)
    check_invariants(text, chunks, 5)
    assert [c.text for c in chunks] == ["one two three\n\nfour five", "six seven eight\n\nnine"]


def test_long_paragraph_is_split_at_sentences() -> None:
    text = sentences(10, words_each=4)
    chunks = chunk(text, size=10)
    check_invariants(text, chunks, 10)
    assert len(chunks) == 5
    assert all(c.text.endswith("end.") for c in chunks)


def test_long_sentence_is_split_at_words() -> None:
    text = " ".join(f"w{i}" for i in range(50))  # one sentence, no punctuation
    chunks = chunk(text, size=7)
    check_invariants(text, chunks, 7)
    assert " ".join(c.text for c in chunks).split() == text.split()


def test_huge_word_is_split_at_characters() -> None:
    def per_four_chars(text: str) -> int:
        return sum(-(-len(w) // 4) for w in text.split())

    text = "start " + "x" * 1000 + " end"
    chunks = chunk(text, size=16, counter=per_four_chars)
    check_invariants(text, chunks, 16, per_four_chars)
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "")


def test_character_over_the_limit_is_an_error() -> None:
    with pytest.raises(ValueError, match="one character"):
        chunk("abc", size=1, counter=lambda text: 2 * len(text))


def test_real_count_over_the_estimate_is_split_further() -> None:
    def newline_heavy(text: str) -> int:  # blank lines cost tokens: counts do not add up
        return words(text) + 3 * text.count("\n\n")

    text = "\n\n".join(f"para {i} has five words" for i in range(12))
    chunks = chunk(text, size=12, overlap=3, counter=newline_heavy)
    check_invariants(text, chunks, 12, newline_heavy)
    assert len(chunks) > 1


def test_multiline_list_items_are_sentence_boundaries() -> None:
    text = "\n".join(f"- item {i} alpha beta" for i in range(6))
    chunks = chunk(text, size=10)
    check_invariants(text, chunks, 10)
    assert all(c.text.startswith("- item") for c in chunks)


# --- overlap --------------------------------------------------------------------------


def test_consecutive_chunks_overlap_within_a_section() -> None:
    text = "# A\n\n" + " ".join(f"w{i}" for i in range(60))
    chunks = chunk(text, size=10, overlap=3)
    check_invariants(text, chunks, 10)
    for before, after in itertools.pairwise(chunks):
        assert before.start < after.start < before.end  # overlapping, and progressing
        shared = text[after.start : before.end]
        assert 1 <= words(shared) <= 3
    covered = " ".join(text[c.start : c.end] for c in chunks).split()
    assert set(covered) == set(text.split()) - {"#", "A"}


def test_overlap_prefers_a_sentence_start() -> None:
    text = "Alpha beta gamma delta epsilon zeta eta theta. Iota kappa. Lambda mu nu xi omicron."
    chunks = chunk(text, size=11, overlap=4)
    check_invariants(text, chunks, 11)
    assert chunks[1].text.startswith("Iota kappa.")


def test_overlap_never_crosses_a_section_boundary() -> None:
    text = f"# A\n\n{sentences(6)}\n\n# B\n\n{sentences(6, tag='t')}"
    chunks = chunk(text, size=12, overlap=4)
    check_invariants(text, chunks, 12)
    first_b = next(c for c in chunks if c.heading_path == ("B",))
    assert first_b.text.startswith("t0w0")
    assert all(c.start >= first_b.start for c in chunks if c.heading_path == ("B",))


def test_no_overlap_makes_disjoint_chunks() -> None:
    text = sentences(20)
    chunks = chunk(text, size=12, overlap=0)
    check_invariants(text, chunks, 12)
    assert all(a.end <= b.start for a, b in itertools.pairwise(chunks))
    assert " ".join(c.text for c in chunks) == text


# --- text -----------------------------------------------------------------------------


def test_unicode_offsets_are_exact() -> None:
    text = (
        "# Überblick 🙂\n\nDas ist ein Satz mit Umlauten: äöü ß. Ein zweiter Satz é́ hier.\n\n"
        "## 日本語\n\n日本語の文です。もう一つの文です。第三の文\uff01 🙂🙂 emoji\n"
        "👩‍👩‍👧 family.\n\n" + " ".join("naïve café" for _ in range(20))
    )
    chunks = chunk(text, size=6, overlap=2)
    check_invariants(text, chunks, 6)
    assert any(c.heading_path == ("Überblick 🙂", "日本語") for c in chunks)


def test_carriage_returns_and_odd_line_breaks_keep_offsets_exact() -> None:
    text = "# T\r\n\r\nLine one.\r\nLine two.\u2028Third part here.\r\n\r\nLast paragraph."
    chunks = chunk(text, size=3)
    check_invariants(text, chunks, 3)


@pytest.mark.parametrize("seed", range(6))
def test_random_documents_keep_every_invariant(seed: int) -> None:
    rng = random.Random(seed)
    vocabulary = ["alpha", "beta.", "gamma!", "δέλτα", "日本。", "x" * 30, "- item", "\n"]
    blocks = []
    for _ in range(rng.randint(1, 25)):
        if rng.random() < 0.2:
            blocks.append("#" * rng.randint(1, 6) + " Heading " + str(rng.randint(0, 9)))
        else:
            blocks.append(" ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 80))))
    text = "\n\n".join(blocks)
    size = rng.randint(2, 40)
    overlap = rng.randint(0, size - 1)
    chunks = chunk(text, size=size, overlap=overlap)
    check_invariants(text, chunks, size)
    body = {w for block in blocks if not block.startswith("#") for w in block.split()}
    assert body <= {w for c in chunks for w in c.text.split()}  # nothing lost


def test_counting_work_is_linear_in_the_text() -> None:
    recorder = Recorder()
    text = "\n\n".join(sentences(8, tag=f"p{p}x") for p in range(200))
    chunks = Chunker(recorder, ChunkingSettings(64, 8)).chunk(doc(text))
    check_invariants(text, chunks, 64)
    assert recorder.chars < 5 * len(text)


# --- embedding text -------------------------------------------------------------------


def test_embedding_text_prepends_title_and_heading_path() -> None:
    c = Chunk("d1", 0, "Refunds take 14 days.", 0, 21, 4, ("Policy", "Returns", "Timeline"))
    assert (
        chunk_embedding_text(c, "Policy") == "Policy > Returns > Timeline\n\nRefunds take 14 days."
    )
    assert chunk_embedding_text(c, "Handbook").startswith("Handbook > Policy > Returns")
    bare = Chunk("d1", 0, "text", 0, 4, 1)
    assert chunk_embedding_text(bare, "") == "text"
    assert chunk_embedding_text(bare, "T") == "T\n\ntext"


# --- a real tokenizer (built in memory: no model file needed) ------------------------


def test_with_a_real_wordpiece_tokenizer() -> None:
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers.models import WordPiece
    from tokenizers.pre_tokenizers import BertPreTokenizer

    pieces = ["[UNK]", "re", "##fund", "##s", "take", "days", "the", "policy", "."]
    tokenizer = tokenizers.Tokenizer(
        WordPiece(vocab={p: i for i, p in enumerate(pieces)}, unk_token="[UNK]")
    )
    tokenizer.pre_tokenizer = BertPreTokenizer()

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    assert count("refunds take days.") == 6  # re ##fund ##s take days .
    text = "# The policy\n\n" + " ".join("Refunds take 14 days." for _ in range(40))
    chunks = Chunker(count, ChunkingSettings(20, 5)).chunk(doc(text))
    check_invariants(text, chunks, 20, count)
    assert len(chunks) > 5
    assert all(c.heading_path == ("The policy",) for c in chunks)
