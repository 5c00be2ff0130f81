"""A retrieved chunk's neighbours: the chunks just before and after it in its document.

Retrieval ranks small chunks, which match a question precisely but often stop short of
the sentence that answers it ("Report damage within 7 days." one chunk after the one that
names the damage). Reading a few chunks either side of each hit (a sentence window) gives
what comes after retrieval the whole passage while retrieval keeps its precision.
"""

from __future__ import annotations

from collections.abc import Sequence

from switchboard.rag.store.base import Store
from switchboard.rag.store.inputs import chunk_id
from switchboard.rag.types import CollectionRef, SearchHit


def chunk_window(
    store: Store, ref: CollectionRef, hits: Sequence[SearchHit], width: int
) -> list[SearchHit]:
    """The hits' chunks and up to ``width`` chunks either side of each, once each: the
    documents in the order the hits first name them, each document's chunks in their
    order. A chunk that is a hit keeps its scores; a neighbour has none."""
    if width < 0:
        raise ValueError(f"width must be at least 0, got {width}")
    found = {(h.stored.chunk.document_id, h.stored.chunk.index): h for h in hits}
    near: dict[str, set[int]] = {}
    for document, index in found:
        near.setdefault(document, set()).update(range(max(0, index - width), index + width + 1))
    keys = [(document, i) for document, indexes in near.items() for i in sorted(indexes)]
    missing = [chunk_id(*key) for key in keys if key not in found]
    for stored in store.get_chunks(ref, missing) if missing else ():
        found[stored.chunk.document_id, stored.chunk.index] = SearchHit(stored, 0.0, {}, {})
    return [found[key] for key in keys if key in found]
