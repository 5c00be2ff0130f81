import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from switchboard_bench.beir import BeirDataset, BeirDoc, load_beir, load_qrels

pytestmark = pytest.mark.unit

CORPUS: list[dict[str, object]] = [
    {"_id": "d1", "title": "Paris", "text": "Paris is the capital of France."},
    {"_id": "d2", "title": "", "text": "Berlin is in Germany.", "metadata": {"url": "x"}},
    {"_id": "d3", "text": "No title field."},
]
QUERIES = [
    {"_id": "q1", "text": "capital of France"},
    {"_id": "q2", "text": "where is Berlin"},
    {"_id": "q3", "text": "a query without judgments"},
]
QRELS = "q1\td1\t2\nq1\td2\t0\nq2\td2\t1\n"
HEADER = "query-id\tcorpus-id\tscore\n"


def write_jsonl(path: Path, rows: Sequence[Mapping[str, object]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def make_dataset(root: Path, qrels: str = HEADER + QRELS, split: str = "test") -> Path:
    write_jsonl(root / "corpus.jsonl", CORPUS)
    write_jsonl(root / "queries.jsonl", QUERIES)
    (root / "qrels").mkdir()
    (root / "qrels" / f"{split}.tsv").write_text(qrels, encoding="utf-8")
    return root


EXPECTED = BeirDataset(
    corpus={
        "d1": BeirDoc("Paris", "Paris is the capital of France."),
        "d2": BeirDoc("", "Berlin is in Germany."),
        "d3": BeirDoc("", "No title field."),
    },
    queries={"q1": "capital of France", "q2": "where is Berlin"},
    qrels={"q1": {"d1": 2, "d2": 0}, "q2": {"d2": 1}},
)


def test_loads_dataset_with_header(tmp_path: Path) -> None:
    assert load_beir(make_dataset(tmp_path)) == EXPECTED


def test_loads_dataset_without_header(tmp_path: Path) -> None:
    assert load_beir(make_dataset(tmp_path, qrels=QRELS)) == EXPECTED


def test_corpus_entries_unpack_as_title_and_text(tmp_path: Path) -> None:
    title, text = load_beir(make_dataset(tmp_path)).corpus["d1"]
    assert (title, text) == ("Paris", "Paris is the capital of France.")


def test_queries_are_restricted_to_those_with_qrels(tmp_path: Path) -> None:
    assert "q3" not in load_beir(make_dataset(tmp_path)).queries


def test_accepts_trec_qrels_crlf_and_blank_lines(tmp_path: Path) -> None:
    trec = "q1 0 d1 2\r\n\r\nq1 0 d2 0\r\nq2 0 d2 1\r\n\r\n"
    assert load_beir(make_dataset(tmp_path, qrels=trec)) == EXPECTED


def test_negative_relevance_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "q.tsv"
    path.write_text("q1\td1\t-1\n", encoding="utf-8")
    assert load_qrels(path) == {"q1": {"d1": -1}}


def test_other_split(tmp_path: Path) -> None:
    root = make_dataset(tmp_path, split="dev")
    assert load_beir(root, split="dev").qrels == EXPECTED.qrels
    with pytest.raises(
        ValueError, match=r"missing file .*test\.tsv \(qrels splits present: \['dev'\]\)"
    ):
        load_beir(root)


@pytest.mark.parametrize("name", ["corpus.jsonl", "queries.jsonl"])
def test_missing_file(tmp_path: Path, name: str) -> None:
    root = make_dataset(tmp_path)
    (root / name).unlink()
    with pytest.raises(ValueError, match=rf"missing file .*{name}"):
        load_beir(root)


def test_missing_qrels_folder(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"missing file .*test\.tsv \(qrels splits present: none\)"
    ):
        load_beir(tmp_path)


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        (HEADER + "q1\td1\n", r"test\.tsv:2: expected .* got 2 columns"),
        (QRELS + "q2\td1\thigh\n", r"test\.tsv:4: relevance 'high' is not an integer"),
        ("q1\td1\tabc\n", r"test\.tsv:1: relevance 'abc' is not an integer"),
        (HEADER + HEADER, r"test\.tsv:2: relevance 'score' is not an integer"),
        ("q1\t\t1\n", r"test\.tsv:1: empty query or corpus id"),
        (QRELS + "q1\td1\t1\n", r"test\.tsv:4: duplicate judgment of 'q1'/'d1'"),
        ("q1 d1 1 0 extra\n", r"test\.tsv:1: expected .* got 5 columns"),
    ],
)
def test_malformed_qrels_line(tmp_path: Path, qrels: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_beir(make_dataset(tmp_path, qrels=qrels))


def test_qrels_query_absent_from_queries(tmp_path: Path) -> None:
    root = make_dataset(tmp_path, qrels=QRELS + "q9\td1\t1\n")
    with pytest.raises(ValueError, match=r"1 queries absent from queries\.jsonl \(first: 'q9'\)"):
        load_beir(root)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"corpus\.jsonl:3: invalid JSON"),
        ("[1, 2]", r"corpus\.jsonl:3: expected a JSON object, got list"),
        ('{"title": "t", "text": "x"}', r"corpus\.jsonl:3: missing or non-string '_id'"),
        ('{"_id": "d9", "title": "t"}', r"corpus\.jsonl:3: missing or non-string 'text'"),
        ('{"_id": "d9", "title": 5, "text": "x"}', r"corpus\.jsonl:3: missing .* 'title'"),
        ('{"_id": "d1", "text": "again"}', r"corpus\.jsonl:3: duplicate _id 'd1'"),
    ],
)
def test_malformed_corpus_line(tmp_path: Path, line: str, message: str) -> None:
    root = make_dataset(tmp_path)
    rows = [json.dumps(row) for row in CORPUS[:2]]
    (root / "corpus.jsonl").write_text("\n".join([*rows, line, ""]), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_beir(root)


def test_malformed_query_line(tmp_path: Path) -> None:
    root = make_dataset(tmp_path)
    (root / "queries.jsonl").write_text('{"_id": "q1"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"queries\.jsonl:1: missing or non-string 'text'"):
        load_beir(root)


def test_integer_ids_and_null_title_are_normalised(tmp_path: Path) -> None:
    root = make_dataset(tmp_path, qrels="1\t7\t1\n")
    write_jsonl(root / "corpus.jsonl", [{"_id": 7, "title": None, "text": "seven"}])
    write_jsonl(root / "queries.jsonl", [{"_id": 1, "text": "one"}])
    dataset = load_beir(root)
    assert dataset.corpus == {"7": BeirDoc("", "seven")}
    assert dataset.queries == {"1": "one"}


def test_qrels_with_only_a_header_are_refused_before_the_corpus_is_read(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no judgments"):
        load_beir(make_dataset(tmp_path, qrels=HEADER))
