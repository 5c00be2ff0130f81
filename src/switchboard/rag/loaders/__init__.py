"""Document loaders: Markdown, plain text, HTML, PDF and JSONL files to ``Document``s.

    iter_files(paths)            (root, file) pairs, folders walked recursively
    load_path(file, doc_id=...)  LoadResult(documents, errors) for one file
    load_paths(paths)            both of the above for a batch, ids made unique

A bad file (or JSONL line) never raises: it becomes a ``LoadFailure`` with a
``FailureKind`` and a readable reason, and the batch goes on.
"""

from switchboard.rag.loaders.base import FailureKind, LoadFailure, LoadResult
from switchboard.rag.loaders.files import (
    DEFAULT_MAX_BYTES,
    EXTENSIONS,
    DocumentFormat,
    default_doc_id,
    format_of,
    is_supported,
    iter_files,
    load_path,
    load_paths,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "EXTENSIONS",
    "DocumentFormat",
    "FailureKind",
    "LoadFailure",
    "LoadResult",
    "default_doc_id",
    "format_of",
    "is_supported",
    "iter_files",
    "load_path",
    "load_paths",
]
