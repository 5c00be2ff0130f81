"""Bytes to text: strict decoding (no guessing) and the normalization every loader applies."""

from __future__ import annotations

import codecs
import hashlib
import re

from switchboard.rag.loaders.base import FailureKind, LoadError

# UTF-32 before UTF-16: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# NUL and other C0 controls are dropped; form feed and vertical tab become line breaks.
_CONTROLS: dict[int, str | None] = {c: None for c in (*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F)}
_CONTROLS |= {0x0B: "\n", 0x0C: "\n"}
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_RUN = re.compile(r"\n{3,}")


def bom_encoding(raw: bytes) -> str | None:
    """The codec named by ``raw``'s byte-order mark, or None if it has none."""
    return next((codec for bom, codec in _BOMS if raw.startswith(bom)), None)


def decode_text(raw: bytes, *, declared: str | None = None) -> str:
    """Decode strictly: a BOM wins, then ``declared`` (an HTML charset), else UTF-8.

    Invalid bytes are a ``LoadError`` (``UNDECODABLE``), never a silent latin-1 guess.
    """
    encoding = bom_encoding(raw) or declared or "utf-8"
    try:
        return raw.decode(encoding)
    except LookupError:
        raise LoadError(FailureKind.UNDECODABLE, f"unknown charset {encoding!r}") from None
    except UnicodeDecodeError as exc:
        raise LoadError(
            FailureKind.UNDECODABLE,
            f"not valid {encoding} (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8",
        ) from None


def normalize_text(text: str) -> str:
    """``\\r\\n`` and ``\\r`` → ``\\n``, control characters (NUL…) dropped, trailing spaces
    cut, runs of blank lines collapsed to one, outer whitespace stripped. Idempotent."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROLS)
    text = _TRAILING_SPACE.sub("", text)
    return _BLANK_RUN.sub("\n\n", text).strip()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
