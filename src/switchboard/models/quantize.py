"""Requantize a GGUF file with llama.cpp's own quantizer (``llama_model_quantize``)."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import llama_cpp

from switchboard.errors import ModelFileError

QUANT_TYPES: dict[str, int] = {
    "f16": llama_cpp.LLAMA_FTYPE_MOSTLY_F16,
    "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0,
    "q6_k": llama_cpp.LLAMA_FTYPE_MOSTLY_Q6_K,
    "q5_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_K_M,
    "q5_1": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_1,
    "q5_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_0,
    "q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M,
    "q4_1": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_1,
    "q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0,
}

# llama_cpp routes llama.cpp's own log (hundreds of per-tensor lines here) through this logger.
_LLAMA_LOGGER = logging.getLogger("llama-cpp-python")


def quantize(src: Path, dst: Path, quant: str, n_threads: int) -> Path:
    """Write ``src`` requantized to ``quant`` at ``dst`` (atomically) and return ``dst``.

    The catalog's sources are already quantized, so ``allow_requantize`` is set: llama.cpp
    dequantizes each tensor and quantizes it again (no quality is regained, but e.g. Q8_0
    kernels run faster than Q4_1 ones on CPUs without fast 4-bit dot products).
    """
    if quant not in QUANT_TYPES:
        raise ValueError(f"unknown quant {quant!r}; expected one of {', '.join(QUANT_TYPES)}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be at least 1, got {n_threads}")
    if not src.is_file():
        raise ModelFileError(f"cannot quantize {src}: no such file")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[quant]
    params.nthread = n_threads
    params.allow_requantize = True
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        with _errors_only(_LLAMA_LOGGER):
            status = llama_cpp.llama_model_quantize(
                os.fsencode(src), os.fsencode(tmp), ctypes.byref(params)
            )
        if status != 0 or not tmp.is_file():
            raise ModelFileError(f"llama.cpp failed to quantize {src} to {quant} ({status=})")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst


@contextlib.contextmanager
def _errors_only(logger: logging.Logger) -> Iterator[None]:
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)
