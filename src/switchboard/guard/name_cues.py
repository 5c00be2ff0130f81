"""Words that introduce a name or a place in customer messages, as a Presidio recognizer.

The small NER model misses names and places that support messages announce:

- a person after "my name is", "I'm", "ich bin", "me llamo" ..., "regards,", "gracias,"
  ..., "leave it with", "ask for", "name on card", "beneficiary" ..., after a title ("Mrs.
  Okafor", "doña pilar": the title is not part of the name), after a relation ("my son
  Theo", "my brother luis", "meine Schwester: Anke Vogel"), a name that closes a
  message on its own ("... Thanks for your help. Aisha"), and a second name joined by
  "or" or "and" to one of those ("ask for hannah or greg");
- a place after "I live in", "office in", "do you ship to" ...;
- after "deliver it to ...", a parcel's recipient: a person or a place
  (``recipient_type``).

The value after a cue is its capitalised run (``capitalised_prefix``), or, in lower case,
a given name (``gazetteers.first_names``) and, where the whole message is in lower case,
the words after it up to a stop word ("marge delaney and my order"). After a title any
word is a name ("mr patel").
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from switchboard.guard.gazetteers import first_names, fold, is_country, region_names, stop_words
from switchboard.guard.name_filters import (
    COMPANY_SUFFIXES,
    GREETINGS_AND_SIGN_OFFS,
    TITLES,
    capitalises,
)

NER_ENTITIES = ("PERSON", "LOCATION")
CUE_SCORE = 0.9  # above spaCy's 0.85: where both fire on one span the cue's type wins
MAX_NAME_WORDS = 3

# Up to three words of at most 40 characters, starting a word: bounded, so that no text
# ("a.a.a...", a 100 kB word) makes a cue's search quadratic.
_RUN = (
    r"(?<![\w'\u2019.-])(?P<value>[^\W\d_][\w'\u2019.-]{0,39}"
    r"(?: [^\W\d_][\w'\u2019.-]{0,39}){0,2})"
)
_HANDED_OVER = (
    r"(?: (?:it|them|this|that|(?:the|my|our|this|that) [\w-]+|parcel|package|box"
    r"|order [\w-]+))?"
)
_SELF = (
    r"my name is|my name's|this is|i am|i'm|call me|soy|me llamo|sono|mi chiamo"
    r"|je suis|je m'appelle|ich bin|ich heiße|ich heisse"
    r"|(?:^|hi,?|hey,?|hello,?|yo,?|hola,?) (?:im|it's|its)"  # "hey its sam", not "its way"
)
_SIGN_OFF = (
    r"regards,?|thanks,?|thank you,?|many thanks,?|cheers,?|sincerely,?|love,?|best,?"
    r"|gracias,?|grazie,?|merci,?|danke,?|saludos,?|cordialement,?|un saluto,?"
)
_LABEL = (
    r"account holder:?|recipient(?: is| to)?:?|attn:?|attention:?|c/o|care of|customer:"
    r"|(?:billing |last |first |full )?name(?: on| for)?(?: the| my| our| your)?"
    r"(?: card| booking| order| account| package| parcel| invoice)?"
    r"(?: is| should be| must be| reads)?:?"
    r"|beneficiary:?|titulaire:?|intestato a|kontoinhaber(?:in)?(?: ist)?:?"
    r"|ask for|asking for|chiedete di|chiedere di|pregunte por|preguntar por|demandez"
    r"|signed for by|(?:someone|somebody|a (?:guy|man|woman|lady)|an agent) (?:called|named)"
    r"|in the name of|under the name(?: of)?"
)
_RELATION = (
    r"(?:my|our) (?:husband|wife|partner|brother|sister|son|daughter|mum|mom|mother|dad"
    r"|father|nan|gran|grandma|grandmother|grandpa|grandfather|aunt|uncle|cousin|niece"
    r"|nephew|friend|neighbou?r|roommate|flatmate|colleague|boss|assistant|girlfriend"
    r"|boyfriend|fianc[ée]e?)(?:'s)?"
    r"|meine? (?:mann|frau|schwester|bruder|sohn|tochter|nachbarin|nachbar|freundin|freund"
    r"|mutter|vater|oma|opa)"
    r"|(?:ma|mon) (?:femme|mari|s(?:œ|oe)ur|fr[èe]re|fils|fille|voisine?|amie?|m[èe]re|p[èe]re)"
    r"|mi (?:mujer|marido|esposo|esposa|hermano|hermana|hijo|hija|vecino|vecina|amigo|amiga"
    r"|madre|padre|abuela|abuelo)"
    r"|(?:mia|mio) (?:moglie|marito|sorella|fratello|figlio|figlia|vicino|vicina|amico|amica"
    r"|madre|padre|nonna|nonno)"
)
_TITLE = r"(?:" + "|".join(sorted(TITLES - {"m"}, key=len, reverse=True)) + r")\.?"
_HANDED = rf"(?:leave|left|hand|handed|give|gave){_HANDED_OVER} (?:with|to)"
# One pattern per kind of cue: the matches of one pattern cannot overlap, and "left with
# my neighbour Siobhan" holds two cues.
PERSON_CUES = tuple(
    re.compile(rf"(?:\b|^)(?i:{cue})[,:]?\s+[\"“']?{_RUN}", re.MULTILINE)
    for cue in (_SELF, _LABEL, _SIGN_OFF, _RELATION, _HANDED)
)
FULL_NAME_CUES = PERSON_CUES[:2]  # after these a name in lower case may have a surname
TITLED = re.compile(rf"\b(?i:{_TITLE}) {_RUN}")
PERSON_SIGN_OFF = re.compile(_RUN + r" here\b")
CLOSING_NAME = re.compile(rf"(?:^|[.!?]\s+|\n|,\s+|[-\u2013\u2014]\s*){_RUN}[.!]?\s*$")
LOCATION_CUES = re.compile(
    r"\b(?i:live in|living in|based in|located in|i'm in|i am in|moved to|moved from"
    r"|writing from|(?:shipping|delivery) to|near|office in|arrives? in|arrived in"
    r"|(?:do|does|can|could|will|would) (?:you|they|it) (?:ship|deliver|send|post) to"
    r"|to (?:ship|deliver|send|post) to) " + _RUN
)
# Who or where a parcel goes: "deliver it to Sarah Mitchell", "ship it to Leeds" (where
# the shop delivers, "do you ship to Porto?", is a LOCATION cue above).
RECIPIENT_CUES = re.compile(
    r"\b(?i:(?:ship|send|sent|deliver|post|mail|address|forward)(?:s|ed|ing)?"
    + _HANDED_OVER
    + r" to) "
    + _RUN
)
ANOTHER_NAME = re.compile(r"\s+(?i:or|and|&|y|et|und|e)\s+(?P<value>[^\W\d_][\w'\u2019-]*)")
ANOTHER_PLACE = re.compile(r"\s+(?i:to|or|and)\s+(?P<value>[^\W\d_][\w'\u2019-]*)")
_CALENDAR_AND_DETERMINERS = (
    "i the a an my our your monday tuesday wednesday thursday friday saturday sunday "
    "january february march april may june july august september october november december "
    "today tomorrow yesterday"
)
_NOT_A_NAME = frozenset(_CALENDAR_AND_DETERMINERS.split()) | TITLES
_INITIAL = re.compile(r"[A-Z]\.")


def capitalised_prefix(value: str) -> str:
    """The leading words of ``value`` that start with a capital and are not calendar
    words, determiners, titles or stop words: ``"Hamburg Central and"`` gives ``"Hamburg
    Central"``; an initial is kept ("K. Lambert"); a company is no one ("... GmbH")."""
    kept: list[str] = []
    for word in value.split(" "):
        if not word[:1].isupper() or _is_function_word(word):
            break
        if _INITIAL.fullmatch(word):
            kept.append(word)
            continue
        kept.append(_bare(word))
        if word != kept[-1]:  # "Imogen's", "Vos." end the name
            break
    while kept and _INITIAL.fullmatch(kept[-1]):
        kept.pop()
    if kept and kept[-1].lower().rstrip(".") in COMPANY_SUFFIXES:
        return ""
    return " ".join(kept)


def _is_function_word(word: str) -> bool:
    stem = _bare(word).lower().replace("\u2019", "'").split("'")[0]  # "I'm", "What's"
    return stem in _NOT_A_NAME or stem in stop_words() or stem in GREETINGS_AND_SIGN_OFFS


def name_prefix(value: str, surname: bool, after_title: bool = False) -> str:
    """The name at the start of ``value``: its capitalised run, or a given name in lower
    case (after a title, any word) and, where ``surname`` (a text in lower case, after a
    cue for a full name), the words after it up to a stop word ("jonathan r. pierce")."""
    if value[:1].isupper():
        return capitalised_prefix(value)
    words = value.split(" ")
    first = _bare(words[0])
    if _is_function_word(first):
        return ""
    if not after_title and fold(first) not in first_names():
        return ""
    kept = [first]
    for word in words[1:] if surname else ():
        bare = _bare(word)
        if _INITIAL.fullmatch(word.upper()):
            kept.append(word)
            continue
        if bare != word or not bare.isalpha() or bare.lower() in stop_words():
            break
        kept.append(bare)
    while len(kept) > 1 and _INITIAL.fullmatch(kept[-1].upper()):
        kept.pop()
    return " ".join(kept[: MAX_NAME_WORDS + 1])


def _bare(word: str) -> str:
    return word.removesuffix("'s").removesuffix("\u2019s").rstrip(".,")


NerSpan = tuple[int, int, str]


def recipient_type(value: str, start: int, end: int, ner: list[NerSpan]) -> str:
    """Whether a parcel's recipient is a person or a place. NER's PERSON wins, two or
    more words are a person's name too (the small model reads "Sofia Rossi" as a place),
    and so is a given name that is not a country or region; another single word is a
    place. A doubt goes to PERSON: a name passed on as a town leaks (``keep``), a town
    redacted as a name still reaches the customer, restored."""
    labels = {label for n_start, n_end, label in ner if n_start < end and start < n_end}
    if "PERSON" in labels or " " in value:
        return "PERSON"
    given = fold(value) in first_names()
    place = is_country(value) or fold(value) in region_names()
    return "PERSON" if given and not place else "LOCATION"


def _is_closing_name(value: str, run: str) -> bool:
    """A message's last words are a name when they are nothing else and start with a
    given name: "... Thanks again. Priyanka", not "Hi, OK thanks"."""
    return value == run.rstrip(".!") and fold(value.split()[0]) in first_names()


def _overlapping(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """Every match of ``pattern``, also those starting inside an earlier one: in "Best
    regards, Ann" the cue "best" hides the cue "regards"."""
    pos = 0
    while (match := pattern.search(text, pos)) is not None:
        yield match
        pos = match.start() + 1


class CueRecognizer(LocalRecognizer):
    """Names and places after the cues of the module docstring."""

    CUES = (
        *(("PERSON", cue) for cue in PERSON_CUES),
        ("TITLED", TITLED),
        ("PERSON", PERSON_SIGN_OFF),
        ("PERSON", CLOSING_NAME),
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
        lower_case_text = not capitalises(text)
        results = []
        claimed: set[int] = set()  # a value an earlier cue typed is not a recipient
        for kind, cue in self.CUES:
            for match in _overlapping(cue, text):
                surname = lower_case_text and cue in FULL_NAME_CUES
                value = name_prefix(match.group("value"), surname, kind == "TITLED")
                start = match.start("value")
                if not value or (kind == "RECIPIENT" and start in claimed):
                    continue
                if cue is CLOSING_NAME and not _is_closing_name(value, match.group("value")):
                    continue
                end = start + len(value)
                claimed.add(start)
                entity = self._entity(kind, value, start, end, ner)
                if entity in entities:
                    results.append(RecognizerResult(entity, start, end, CUE_SCORE))
                    results += self._joined(entity, text, end, lower_case_text)
        return results

    @staticmethod
    def _entity(kind: str, value: str, start: int, end: int, ner: list[NerSpan]) -> str:
        if kind == "RECIPIENT":
            return recipient_type(value, start, end, ner)
        return "PERSON" if kind == "TITLED" else kind

    @staticmethod
    def _joined(kind: str, text: str, end: int, lower_case_text: bool) -> list[RecognizerResult]:
        """A name joined to the one ending at ``end``: a given name after "hannah or",
        a capitalised place after "from Ghent to"."""
        joiner = ANOTHER_NAME if kind == "PERSON" else ANOTHER_PLACE
        match = joiner.match(text, end)
        if match is None:
            return []
        value = match.group("value")
        if kind == "PERSON" and fold(_bare(value)) not in first_names():
            return []
        value = name_prefix(value, False) if kind == "PERSON" else capitalised_prefix(value)
        start = match.start("value")
        return [RecognizerResult(kind, start, start + len(value), CUE_SCORE)] if value else []
