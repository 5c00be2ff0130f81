"""Files to documents: find the files, pick a loader by extension, report what failed.

``load_path`` never raises for a bad file: every problem becomes a ``LoadFailure`` in the
result, so the caller's batch goes on. Single-document formats are read whole (at most
``max_bytes``); JSONL is streamed and ``max_bytes`` limits each line instead.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType

from switchboard.rag.loaders.base import Extracted, FailureKind, LoadError, LoadFailure, LoadResult
from switchboard.rag.loaders.html import extract_html
from switchboard.rag.loaders.jsonl import load_jsonl
from switchboard.rag.loaders.markdown import extract_markdown, extract_text
from switchboard.rag.loaders.pdf import extract_pdf
from switchboard.rag.loaders.text import normalize_text, sha256_hex
from switchboard.rag.types import Document

DEFAULT_MAX_BYTES = 20 * 1024 * 1024


class DocumentFormat(enum.StrEnum):
    MARKDOWN = "markdown"
    TEXT = "text"
    HTML = "html"
    PDF = "pdf"
    JSONL = "jsonl"


EXTENSIONS: Mapping[str, DocumentFormat] = MappingProxyType(
    {
        ".md": DocumentFormat.MARKDOWN,
        ".markdown": DocumentFormat.MARKDOWN,
        ".txt": DocumentFormat.TEXT,
        ".html": DocumentFormat.HTML,
        ".htm": DocumentFormat.HTML,
        ".pdf": DocumentFormat.PDF,
        ".jsonl": DocumentFormat.JSONL,
    }
)

Extractor = Callable[[bytes, Path], Extracted]
Loader = Callable[[Path, str, int], LoadResult]
"""``(path, document id, max_bytes) -> LoadResult``; raises ``LoadError`` for the file."""


def format_of(path: Path) -> DocumentFormat | None:
    return EXTENSIONS.get(path.suffix.lower())


def is_supported(path: str | Path) -> bool:
    return format_of(Path(path)) is not None


def load_path(
    path: str | Path,
    *,
    doc_id: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    extractors: Mapping[DocumentFormat, Extractor] = MappingProxyType({}),
) -> LoadResult:
    """The documents in one file; ``doc_id`` (default: the file name) names a
    single-document file, while JSONL records carry their own ids. ``extractors`` replace
    the built-in ones of single-document formats (e.g. PDF in a child process, bounded)."""
    path = Path(path)
    try:
        fmt = format_of(path)
        if fmt is None:
            known = ", ".join(EXTENSIONS)
            raise LoadError(
                FailureKind.UNSUPPORTED, f"unsupported extension {path.suffix!r} (known: {known})"
            )
        extract = extractors.get(fmt)
        loader = _LOADERS[fmt] if extract is None else _single(extract)
        return loader(path, doc_id or path.name, max_bytes)
    except LoadError as exc:
        return LoadResult([], [LoadFailure(str(path), exc.kind, exc.reason)])


def iter_files(paths: Iterable[str | Path]) -> Iterator[tuple[Path, Path]]:
    """``(root, file)`` for each path: a file is its own entry (root: its folder); a folder
    is walked recursively in sorted order, skipping hidden files and folders (``.*``) and
    not following symlinked folders. A missing path is yielded as is, for
    ``load_path`` to report."""
    for path in map(Path, paths):
        if path.is_dir():
            yield from ((path, file) for file in _walk(path))
        else:
            yield path.parent, path


def default_doc_id(root: Path, file: Path) -> str:
    """``file``'s path relative to ``root``, POSIX style (``docs/a.md``)."""
    try:
        return file.relative_to(root).as_posix()
    except ValueError:
        return file.as_posix()


def load_paths(paths: Iterable[str | Path], *, max_bytes: int = DEFAULT_MAX_BYTES) -> LoadResult:
    """Every document under ``paths`` with ids from ``default_doc_id``; an id seen twice
    is reported as ``DUPLICATE`` and the later document dropped."""
    documents: list[Document] = []
    errors: list[LoadFailure] = []
    seen: set[str] = set()
    for root, file in iter_files(paths):
        result = load_path(file, doc_id=default_doc_id(root, file), max_bytes=max_bytes)
        errors.extend(result.errors)
        for document in result.documents:
            if document.id in seen:
                reason = f"duplicate id {document.id!r}"
                errors.append(LoadFailure(str(file), FailureKind.DUPLICATE, reason))
                continue
            seen.add(document.id)
            documents.append(document)
    return LoadResult(documents, errors)


def _walk(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder, name)


def _read(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size <= max_bytes:
            with path.open("rb") as file:
                raw = file.read(max_bytes + 1)
            size = len(raw)
    except OSError as exc:
        raise LoadError(FailureKind.UNREADABLE, f"cannot read: {exc.strerror or exc}") from exc
    if size > max_bytes:
        raise LoadError(FailureKind.TOO_LARGE, f"{_mib(size)} is over the {_mib(max_bytes)} limit")
    return raw


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


def _single(extract: Extractor) -> Loader:
    """A loader for a format with one document per file."""

    def load(path: Path, doc_id: str, max_bytes: int) -> LoadResult:
        raw = _read(path, max_bytes)
        extracted = extract(raw, path)
        text = normalize_text(extracted.text)
        if not text:
            raise LoadError(FailureKind.EMPTY, "no text left after extraction")
        document = Document(
            id=doc_id,
            title=extracted.title,
            source=str(path),
            text=text,
            content_hash=sha256_hex(raw),
            metadata=extracted.metadata,
        )
        return LoadResult([document], [])

    return load


def _jsonl(path: Path, doc_id: str, max_bytes: int) -> LoadResult:
    return load_jsonl(path, max_bytes=max_bytes)


_LOADERS: Mapping[DocumentFormat, Loader] = MappingProxyType(
    {
        DocumentFormat.MARKDOWN: _single(extract_markdown),
        DocumentFormat.TEXT: _single(extract_text),
        DocumentFormat.HTML: _single(extract_html),
        DocumentFormat.PDF: _single(extract_pdf),
        DocumentFormat.JSONL: _jsonl,
    }
)
