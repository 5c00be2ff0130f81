"""Answerability: whether the selected evidence speaks about what the question asks.

Retrieval always returns its nearest articles, and the relevance floor (the best chunk's
cosine) cannot tell "the nearest article answers it" from "the nearest article is about
something else" when both score alike. So, in that band of doubt (relevance below
``trusted_relevance``), the question's key terms are checked against the evidence itself.

- The question's content words (stopwords dropped) are ranked by how central each is to
  the question: the cosine of the word and the whole question under the embedder. The
  ``key_terms`` most central are its key terms ("merge", "gift wrapping", "NHS" rather
  than the trip, the weather or the brother a customer mentions on the way).
- A key term is covered when the evidence (sentences, headings, titles) contains it, crudely
  stemmed, or when one evidence sentence is close to it (cosine ``term_floor`` or more),
  which lets a paraphrase count ("send it back" for "return").
- The question is answerable when at least one key term is covered.

Measured on the dev questions (the golden set and a blind dev set, 120 answerable and 14
unanswerable policy questions): the relevance floor alone (0.35) catches 2 of the 14; this
check with 1 key term, ``term_floor`` 0.3 and ``trusted_relevance`` 0.45 catches 8, and
turns away 6 answerable ones (3 of them in German, French or Spanish).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from switchboard.assistant.evidence import Candidate, VectorCache, stem
from switchboard.assistant.prompt_budget import SourceChunk
from switchboard.rag.store.inputs import query_terms


@dataclass(frozen=True)
class Verdict:
    answerable: bool
    key_terms: tuple[str, ...]  # most central first
    uncovered: tuple[str, ...]  # the key terms the evidence does not speak about


class AnswerabilityCheck:
    def __init__(
        self,
        vectors: VectorCache,
        *,
        key_terms: int,
        term_floor: float,
        trusted_relevance: float,
    ) -> None:
        if key_terms < 1:
            raise ValueError(f"key_terms must be at least 1, got {key_terms}")
        self.key_terms = key_terms
        self.term_floor = term_floor
        self.trusted_relevance = trusted_relevance
        self._vectors = vectors

    def judge(self, question: str, evidence: Sequence[SourceChunk], relevance: float) -> Verdict:
        """Answerable when retrieval is sure (``relevance``, the best chunk's cosine, at
        ``trusted_relevance`` or more), or the evidence covers a key term."""
        if relevance >= self.trusted_relevance and evidence:
            return Verdict(True, (), ())
        words = query_terms(question)
        if not words or not evidence:
            return Verdict(bool(evidence), (), ())
        texts = [Candidate(source, 1).embedding_text for source in evidence]
        vectors = self._vectors.of([question, *words, *texts])
        asked, terms, said = vectors[0], vectors[1 : 1 + len(words)], vectors[1 + len(words) :]
        ranked = sorted(range(len(words)), key=lambda i: -float(terms[i] @ asked))
        key = ranked[: self.key_terms]
        held = {stem(w) for source in evidence for w in query_terms(_text(source))}
        closest = (terms[key] @ said.T).max(axis=1)
        uncovered = tuple(
            words[i]
            for i, near in zip(key, closest, strict=True)
            if stem(words[i]) not in held and near < self.term_floor
        )
        return Verdict(len(uncovered) < len(key), tuple(words[i] for i in key), uncovered)


def _text(source: SourceChunk) -> str:
    return f"{source.title} {source.heading} {source.text}"
