"""PDF via pypdf: the text of each page, pages separated by a blank line.

Metadata: ``pages`` (the page count) and ``page_starts`` (the offset in ``Document.text``
where each page's text starts, so a chunk's ``start`` maps back to a page for citations).
Scanned PDFs have no text layer; OCR is out of scope, so they are reported ``EMPTY``.
"""

from __future__ import annotations

import io
from pathlib import Path

from pypdf import PdfReader

from switchboard.rag.loaders.base import Extracted, FailureKind, LoadError
from switchboard.rag.loaders.text import normalize_text


def extract_pdf(raw: bytes, path: Path) -> Extracted:
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(FailureKind.ENCRYPTED, "the PDF is encrypted with a password")
        pages = [normalize_text(page.extract_text() or "") for page in reader.pages]
        title = str(reader.metadata.title or "") if reader.metadata else ""
    except LoadError:
        raise
    except Exception as exc:  # pypdf raises many types on broken input; the batch goes on
        reason = f"unreadable PDF: {exc or type(exc).__name__}"
        raise LoadError(FailureKind.CORRUPT, reason) from exc
    text, starts = join_pages(pages)
    if not text:
        reason = "no text layer in the PDF (scanned? OCR is not supported)"
        raise LoadError(FailureKind.EMPTY, reason)
    metadata = {"format": "pdf", "pages": len(pages), "page_starts": starts}
    return Extracted(text, title.strip() or path.stem, metadata)


def join_pages(pages: list[str]) -> tuple[str, list[int]]:
    """Non-empty pages joined by blank lines, and where each page starts in the result
    (an empty page "starts" where the text before it ends)."""
    parts: list[str] = []
    starts: list[int] = []
    offset = 0
    for page in pages:
        if page and offset:
            parts.append("\n\n")
            offset += 2
        starts.append(offset)
        parts.append(page)
        offset += len(page)
    return "".join(parts), starts
