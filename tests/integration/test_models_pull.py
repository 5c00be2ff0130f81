"""The real default model in the session's data dir (``make test`` pulls it first)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import llama_cpp
import pytest

from switchboard.config import DEFAULT_MODEL, Settings
from switchboard.models import ModelRegistry
from switchboard.models.quantize import quantize

pytestmark = pytest.mark.integration

N_THREADS = os.cpu_count() or 1


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    llama_cpp.llama_backend_init()
    return ModelRegistry(Settings().models_dir, n_threads=N_THREADS)


def file_type(path: Path) -> int:
    """``general.file_type`` of a GGUF file, read by llama.cpp (so the file must load)."""
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(os.fsencode(path), params)
    assert model, f"llama.cpp could not load {path}"
    try:
        buf = ctypes.create_string_buffer(32)
        n = llama_cpp.llama_model_meta_val_str(model, b"general.file_type", buf, len(buf))
        assert n > 0
        return int(buf.value)
    finally:
        llama_cpp.llama_model_free(model)


@pytest.fixture(scope="module")
def default_model(registry: ModelRegistry) -> Path:
    return registry.resolve(DEFAULT_MODEL)


def test_default_model_is_pulled_q8_0(default_model: Path) -> None:
    assert DEFAULT_MODEL == "smollm2-135m:q8_0"
    assert default_model.name == "smollm2-135m.q8_0.gguf"
    with default_model.open("rb") as f:
        assert f.read(4) == b"GGUF"
    assert file_type(default_model) == llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0


def test_quantize_q4_1_base_to_q8_0(registry: ModelRegistry, tmp_path: Path) -> None:
    base = registry.resolve("smollm2-135m")
    assert file_type(base) == llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_1
    out = quantize(base, tmp_path / "out.q8_0.gguf", "q8_0", N_THREADS)
    assert out == tmp_path / "out.q8_0.gguf"
    assert file_type(out) == llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    assert out.stat().st_size > 1.3 * base.stat().st_size
    assert [p.name for p in tmp_path.iterdir()] == ["out.q8_0.gguf"]
