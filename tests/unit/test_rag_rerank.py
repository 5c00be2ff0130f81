"""Re-rankers: PRF (Rocchio over stored vectors) on hand-made vectors, and the cross-encoder
on a toy ONNX model whose score is the passage's token count, built here with
``onnx.helper`` next to a tiny WordLevel ``tokenizer.json`` with a BERT-style pair template."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from tokenizers import Tokenizer, models, pre_tokenizers, processors

from switchboard.config import KnowledgeSettings, RetrievalSettings
from switchboard.rag.knowledge import KnowledgeBase, make_reranker
from switchboard.rag.rerank import (
    Candidate,
    CrossEncoderReranker,
    PRFReranker,
    Vectors,
    relevance_scores,
)
from switchboard.rag.retrieval import SearchRequest
from switchboard.rag.store import SQLiteStore
from switchboard.rag.types import CollectionRef, Document, SearchMode
from tests.unit.fakes import HashingEmbedder

pytestmark = pytest.mark.unit

REF = CollectionRef("acme", "kb")
NO_QUERY_VECTOR = np.zeros(3, dtype=np.float32)  # a cross-encoder reads only the text


def unit(*values: float) -> Vectors:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def candidate(chunk_id: str, vector: Vectors | None = None, text: str = "") -> Candidate:
    return Candidate(
        chunk_id=chunk_id, text=text, vector=NO_QUERY_VECTOR if vector is None else vector
    )


# -- PRF --------------------------------------------------------------------------------

QUERY = unit(1, 0, 0)
# The two best fused candidates lean towards axis 1; "raw" matches the query alone better
# than "near", but "near" lies close to what the strongest hits have in common.
FEEDBACK = [candidate("a", unit(0.6, 0.8, 0)), candidate("b", unit(0.6, 0.8, 0))]
RAW = candidate("raw", unit(0.9, 0, 0.436))
NEAR = candidate("near", unit(0.5, 0.866, 0))


def test_prf_lifts_a_candidate_near_the_feedback_centroid() -> None:
    candidates = [*FEEDBACK, RAW, NEAR]

    scores = PRFReranker(feedback=2, weight=1.0).scores("q", QUERY, candidates)

    by_id = dict(zip([c.chunk_id for c in candidates], scores, strict=True))
    assert float(RAW.vector @ QUERY) > float(NEAR.vector @ QUERY)
    assert by_id["near"] > by_id["raw"]


def test_prf_scores_are_cosines_to_the_expanded_query() -> None:
    candidates = [*FEEDBACK, RAW, NEAR]

    scores = PRFReranker(feedback=2, weight=0.5).scores("q", QUERY, candidates)

    expanded = QUERY + 0.5 * np.mean([FEEDBACK[0].vector, FEEDBACK[1].vector], axis=0)
    expanded /= np.linalg.norm(expanded)
    assert scores == pytest.approx([float(c.vector @ expanded) for c in candidates], abs=1e-6)


def test_prf_with_zero_weight_is_the_plain_cosine() -> None:
    candidates = [*FEEDBACK, RAW, NEAR]

    scores = PRFReranker(feedback=2, weight=0.0).scores("q", QUERY, candidates)

    assert scores == pytest.approx([float(c.vector @ QUERY) for c in candidates], abs=1e-6)
    assert scores[2] > scores[3]  # without feedback the raw match stays ahead


def test_prf_feedback_larger_than_the_candidates_uses_them_all() -> None:
    few = [RAW, NEAR]

    scores = PRFReranker(feedback=10).scores("q", QUERY, few)

    assert scores == pytest.approx(PRFReranker(feedback=2).scores("q", QUERY, few))


def test_prf_leaves_the_query_vector_alone_and_handles_no_candidates() -> None:
    query = QUERY.copy()
    reranker = PRFReranker()

    reranker.scores("q", query, [*FEEDBACK, RAW])

    assert np.array_equal(query, QUERY)
    assert reranker.scores("q", query, []) == []


@pytest.mark.parametrize(
    ("feedback", "weight"),
    [(0, 1.0), (-1, 1.0), (3, -0.1), (3, float("nan")), (3, float("inf"))],
)
def test_prf_refuses_bad_settings(feedback: int, weight: float) -> None:
    with pytest.raises(ValueError, match="feedback must be >= 1"):
        PRFReranker(feedback=feedback, weight=weight)


# -- a toy cross-encoder ----------------------------------------------------------------

WORDS = ["kiwi", "bird", "green", "small", "night", "forest", "egg", "feather"]


def write_tokenizer(folder: Path) -> Tokenizer:
    """A WordLevel tokenizer with BERT's pair template: ``[CLS] A [SEP] B [SEP]``, type
    ids 1 on ``B [SEP]``, so a pair's type-1 tokens are the passage's tokens plus one."""
    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3} | {
        word: i for i, word in enumerate(WORDS, start=4)
    }
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    return tokenizer


def write_model(folder: Path, *, two_logits: bool = False) -> None:
    """``count = ReduceSum(Cast(token_type_ids * attention_mask))`` per row: logits
    ``[count]``, or ``[2 * count, count]`` as ``[irrelevant, relevant]`` logits."""
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "seq"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    nodes = [
        helper.make_node("Mul", ["token_type_ids", "attention_mask"], ["second"]),
        helper.make_node("Cast", ["second"], ["second_f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["second_f", "axes"], ["count"], keepdims=1),
    ]
    initializers = [helper.make_tensor("axes", TensorProto.INT64, [1], [1])]
    if two_logits:
        initializers.append(helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]))
        nodes += [
            helper.make_node("Mul", ["count", "two"], ["doubled"]),
            helper.make_node("Concat", ["doubled", "count"], ["logits"], axis=1),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["count"], ["logits"]))
    output = helper.make_tensor_value_info(
        "logits", TensorProto.FLOAT, ["batch", 2 if two_logits else 1]
    )
    graph = helper.make_graph(nodes, "toy_cross_encoder", inputs, [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(folder / "model.onnx"))


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    folder = tmp_path / "toy-cross-encoder"
    folder.mkdir()
    write_tokenizer(folder)
    write_model(folder)
    return folder


def passages(*lengths: int) -> list[Candidate]:
    return [candidate(f"c{i}", text=" ".join(WORDS[:n])) for i, n in enumerate(lengths)]


def test_the_toy_tokenizer_marks_the_passage_with_type_one(tmp_path: Path) -> None:
    tokenizer = write_tokenizer(tmp_path)

    encoding = tokenizer.encode("kiwi", "green small egg")

    assert encoding.tokens == ["[CLS]", "kiwi", "[SEP]", "green", "small", "egg", "[SEP]"]
    assert encoding.type_ids == [0, 0, 0, 1, 1, 1, 1]


def test_cross_encoder_scores_each_pair_jointly(toy: Path) -> None:
    reranker = CrossEncoderReranker(toy)

    scores = reranker.scores("kiwi bird", NO_QUERY_VECTOR, passages(3, 1, 5, 2))

    assert scores == [4.0, 2.0, 6.0, 3.0]  # passage tokens + the final [SEP]; padding ignored
    assert reranker.scores("kiwi", NO_QUERY_VECTOR, []) == []


def test_cross_encoder_truncates_long_pairs(toy: Path) -> None:
    reranker = CrossEncoderReranker(toy, max_length=8)

    scores = reranker.scores("kiwi", NO_QUERY_VECTOR, passages(2, 8))

    assert scores == [3.0, 5.0]  # [CLS] kiwi [SEP] + 4 passage words + [SEP] = 8 tokens


def test_cross_encoder_with_two_logits_scores_the_log_odds(tmp_path: Path) -> None:
    write_tokenizer(tmp_path)
    write_model(tmp_path, two_logits=True)

    scores = CrossEncoderReranker(tmp_path).scores("kiwi", NO_QUERY_VECTOR, passages(3, 1, 5))

    # logits [2n, n]: relevance falls with length, though the "relevant" logit n grows
    assert scores == [-4.0, -2.0, -6.0]


def test_relevance_scores_of_one_or_two_logits() -> None:
    assert relevance_scores(np.array([[0.5], [2.0]]), 2) == [0.5, 2.0]
    assert relevance_scores(np.array([0.5, 2.0]), 2) == [0.5, 2.0]
    assert relevance_scores(np.array([[5.0, 6.0], [-3.0, 4.0]]), 2) == [1.0, 7.0]


def test_cross_encoder_reranks_retrieval_hits(toy: Path, tmp_path: Path) -> None:
    texts = {f"d{n}": " ".join(["kiwi", *WORDS[1:n]]) for n in (3, 1, 6, 2, 4)}
    retrieval = RetrievalSettings(reranker="cross-encoder", cross_encoder_path=toy)
    store = SQLiteStore(tmp_path / "kb.sqlite3")
    kb = KnowledgeBase.assemble(KnowledgeSettings(retrieval=retrieval), store, HashingEmbedder())
    kb.ingestor.ingest_documents(
        REF,
        [Document(id=i, title="", source=i, text=t, content_hash=t) for i, t in texts.items()],
    )

    result = kb.retriever.search(REF, kb.request("kiwi", top_k=5))

    assert result.reranker == "cross-encoder"
    assert [hit.stored.chunk.document_id for hit in result.hits] == ["d6", "d4", "d3", "d2", "d1"]
    assert [hit.score for hit in result.hits] == [7.0, 5.0, 4.0, 3.0, 2.0]
    assert all(set(hit.ranks) == {"bm25", "dense", "rrf", "rerank"} for hit in result.hits)
    store.close()


@pytest.fixture
def no_sentence_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import raises


@pytest.mark.usefixtures("no_sentence_transformers")
def test_a_folder_without_model_onnx_needs_sentence_transformers(tmp_path: Path) -> None:
    write_tokenizer(tmp_path)

    with pytest.raises(ValueError, match=r"no model\.onnx and sentence-transformers is not"):
        CrossEncoderReranker(tmp_path)


def test_a_missing_cross_encoder_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        CrossEncoderReranker(tmp_path / "nowhere")


# -- make_reranker ----------------------------------------------------------------------


def test_make_reranker_builds_the_configured_one(toy: Path) -> None:
    assert make_reranker(RetrievalSettings(reranker="none")) is None
    prf = make_reranker(RetrievalSettings(reranker="prf", prf_docs=5, prf_weight=0.25))
    assert isinstance(prf, PRFReranker)
    assert (prf.feedback, prf.weight) == (5, 0.25)
    cross = make_reranker(RetrievalSettings(reranker="cross-encoder", cross_encoder_path=toy))
    assert isinstance(cross, CrossEncoderReranker)


def test_prf_through_the_retriever_keeps_every_stage(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "kb.sqlite3")
    kb = KnowledgeBase.assemble(KnowledgeSettings(), store, HashingEmbedder())
    words = ["kiwi bird", "kiwi fruit", "kiwi bird feather", "green fruit"]
    kb.ingestor.ingest_documents(
        REF,
        [
            Document(id=f"d{i}", title="", source="", text=t, content_hash=t)
            for i, t in enumerate(words)
        ],
    )

    result = kb.retriever.search(REF, SearchRequest("kiwi", mode=SearchMode.HYBRID, top_k=4))

    assert result.reranker == "prf"
    assert [hit.ranks["rerank"] for hit in result.hits] == [1, 2, 3, 4]
    assert sorted(hit.ranks["rrf"] for hit in result.hits) == [1, 2, 3, 4]
    assert all(hit.score == hit.scores["rerank"] for hit in result.hits)
    store.close()
