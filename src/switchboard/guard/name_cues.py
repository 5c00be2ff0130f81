"""Words that introduce a name or a place in customer messages, as a Presidio recognizer.

The small NER model misses names and places that support messages announce: "my name is
...", "regards, ...", "leave it with ..." (a person), "I live in ...", "office in ...",
"do you ship to ..." (a place), and "deliver it to ...": a parcel's recipient, a person
or a place (``recipient_type``). The capitalised run after a cue is the value.
"""

from __future__ import annotations

import re

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

NER_ENTITIES = ("PERSON", "LOCATION")

# Words that introduce a name or a place in customer messages. A capitalised run after
# them is the value; it scores above spaCy's 0.85 so that where both fire on one span the
# cue's type wins (the small model often calls a city a PERSON and vice versa).
_CAPITALISED_RUN = r"(?P<value>[^\W\d_][\w'\u2019-]*(?: [^\W\d_][\w'\u2019-]*){0,2})"
_HANDED_OVER = r"(?: (?:it|them|this|that|(?:the|my|our|this|that) [\w-]+|order [\w-]+))?"
PERSON_CUES = re.compile(
    r"\b(?i:my name is|my name's|this is|i am|i'm|call me|regards,?|thanks,?|thank you,?"
    r"|cheers,?|sincerely,?|account holder:?|recipient:?|attn:?|attention:?|c/o|care of"
    r"|(?:leave|left|hand|handed|give|gave)" + _HANDED_OVER + r" (?:with|to)) " + _CAPITALISED_RUN
)
PERSON_SIGN_OFF = re.compile(_CAPITALISED_RUN + r" here\b")
LOCATION_CUES = re.compile(
    r"\b(?i:live in|living in|based in|located in|i'm in|i am in|moved to|moved from"
    r"|writing from|(?:shipping|delivery) to|near|office in|arrives? in|arrived in"
    r"|(?:do|does|can|could|will|would) (?:you|they|it) (?:ship|deliver|send|post) to"
    r"|to (?:ship|deliver|send|post) to) " + _CAPITALISED_RUN
)
# Who or where a parcel goes: "deliver it to Sarah Mitchell", "ship it to Leeds" (where
# the shop delivers, "do you ship to Porto?", is a LOCATION cue above).
RECIPIENT_CUES = re.compile(
    r"\b(?i:(?:ship|send|sent|deliver|post|mail|address|forward)(?:s|ed|ing)?"
    + _HANDED_OVER
    + r" to) "
    + _CAPITALISED_RUN
)
CUE_SCORE = 0.9
_CALENDAR_AND_DETERMINERS = (
    "i the a an my our your monday tuesday wednesday thursday friday saturday sunday "
    "january february march april may june july august september october november december "
    "today tomorrow yesterday"
)
_NOT_A_NAME = frozenset(_CALENDAR_AND_DETERMINERS.split())


def capitalised_prefix(value: str) -> str:
    """The leading words of ``value`` that start with a capital and are not calendar
    words or determiners: ``"Hamburg Central and"`` gives ``"Hamburg Central"``."""
    kept: list[str] = []
    for word in value.split(" "):
        if not word[:1].isupper() or word.lower() in _NOT_A_NAME:
            break
        kept.append(word)
    return " ".join(kept)


NerSpan = tuple[int, int, str]


def recipient_type(value: str, start: int, end: int, ner: list[NerSpan]) -> str:
    """Whether a parcel's recipient is a person or a place. NER's PERSON wins, and two or
    more capitalised words are a person's name too (the small model reads "Sofia Rossi"
    as a place); a single word NER does not call a person is a place. A doubt goes to
    PERSON: a name passed on as a town leaks (``keep``), a town redacted as a name still
    reaches the customer, restored."""
    labels = {label for n_start, n_end, label in ner if n_start < end and start < n_end}
    return "PERSON" if "PERSON" in labels or " " in value else "LOCATION"


class CueRecognizer(LocalRecognizer):
    """Names after "my name is", "regards,", "leave it with" ..., places after "I live in"
    ..., and a parcel's recipient after "deliver it to" (``recipient_type``): the
    phrasings support messages use, recovering what the small NER model misses."""

    CUES = (
        ("PERSON", PERSON_CUES),
        ("PERSON", PERSON_SIGN_OFF),
        ("LOCATION", LOCATION_CUES),
        ("RECIPIENT", RECIPIENT_CUES),
    )

    def __init__(self) -> None:
        super().__init__(supported_entities=list(NER_ENTITIES), name="CueRecognizer")

    def load(self) -> None:
        """Nothing to load: the cues are regular expressions."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        ner: list[NerSpan] = []
        if nlp_artifacts is not None:
            ner = [(e.start_char, e.end_char, e.label_) for e in nlp_artifacts.entities]
        results = []
        claimed: set[int] = set()  # a value an earlier cue typed is not a recipient
        for kind, cue in self.CUES:
            for match in cue.finditer(text):
                value = capitalised_prefix(match.group("value"))
                start = match.start("value")
                if not value or (kind == "RECIPIENT" and start in claimed):
                    continue
                end = start + len(value)
                claimed.add(start)
                entity = recipient_type(value, start, end, ner) if kind == "RECIPIENT" else kind
                if entity in entities:
                    results.append(RecognizerResult(entity, start, end, CUE_SCORE))
        return results
