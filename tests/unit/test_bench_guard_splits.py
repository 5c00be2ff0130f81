"""``bench guard``'s hand-written splits: the blind test split is loaded whole and
reported apart from the dev split (scored here by regex detectors; what the real guard
scores on it is measured by ``switchboard bench guard``, not asserted)."""

from __future__ import annotations

import json
import re

import pytest
from rich.console import Console

from switchboard.config import GuardSettings
from switchboard.guard.types import Category, Finding
from switchboard_bench.guard_splits import (
    SCORED_AS,
    Split,
    evaluate_split,
    hard_ids,
    injection_messages,
    names_as_places,
    pii_cases,
    scored_as,
    split_dir,
    splits_tables,
)
from switchboard_bench.pii_set import ExpectedSpan, PiiCase
from tests.unit.guard_fakes import make_guard

pytestmark = pytest.mark.unit


def test_the_blind_test_split_is_loaded_whole() -> None:
    messages = injection_messages(Split.TEST)
    assert sum(m.malicious for m in messages) == 200
    assert sum(not m.malicious for m in messages) == 300
    benign_ids = {m.id for m in messages if not m.malicious}
    assert len(hard_ids(Split.TEST)) == 60
    assert hard_ids(Split.TEST) <= benign_ids
    cases = pii_cases(Split.TEST)
    assert len(cases) == 200
    assert sum(len(c.spans) for c in cases) == 444
    assert sum(c.is_negative for c in cases) == 40
    raw = (split_dir(Split.TEST) / "pii_test.jsonl").read_text(encoding="utf-8").splitlines()
    for case, line in zip(cases, raw, strict=True):
        texts = [e["text"] for e in json.loads(line)["entities"]]
        assert [case.text[s.start : s.end] for s in case.spans] == texts


def test_each_split_is_scored_and_reported_on_its_own() -> None:
    _, pii = make_guard()

    def injection(text: str) -> float:
        return 0.9 if re.search(r"(?i)\bignore\b", text) else 0.1

    results = {s.value: evaluate_split(s, GuardSettings(), injection, pii) for s in Split}

    test = results["test"]
    assert test["split"] == "test"
    assert (test["injection"]["attacks"], test["injection"]["benign"]) == (200, 300)
    assert test["injection"]["hard_benign"] == 60
    assert 0 < test["injection"]["recall"] < 1  # some attacks say "ignore", most do not
    assert sum(f["n"] for f in test["injection"]["recall_by_family"].values()) == 200
    per_type = test["pii"]["overlap"]["per_type"]
    assert sum(c["tp"] + c["fn"] for c in per_type.values()) == 444
    assert per_type["CREDIT_CARD"]["tp"] > 0  # the fake finds grouped cards
    dev = results["dev"]
    assert (dev["injection"]["attacks"], dev["injection"]["benign"]) == (250, 350)
    assert dev["injection"]["hard_benign"] == 70
    assert sum(c["tp"] + c["fn"] for c in dev["pii"]["overlap"]["per_type"].values()) == 596

    console = Console(record=True, width=200)
    for table in splits_tables(results):
        console.print(table)
    shown = console.export_text()
    assert "test" in shown
    assert "of 200" in shown
    assert "CARD_EXPIRY" in shown


def test_names_reported_as_places_are_counted() -> None:
    case = PiiCase("Deliver to Sarah, not Leeds", [ExpectedSpan("PERSON", 11, 16)])
    as_place = [Finding(Category.PII, "LOCATION", 11, 16, 0.9)]
    as_person = [Finding(Category.PII, "PERSON", 11, 16, 0.9)]
    elsewhere = [Finding(Category.PII, "LOCATION", 22, 27, 0.9)]
    assert names_as_places([case], [as_place]) == 1
    assert names_as_places([case], [as_person]) == 0
    assert names_as_places([case], [elsewhere]) == 0


def test_a_street_address_is_scored_as_the_splits_location() -> None:
    """The splits annotate a street line as a LOCATION; the guard reports STREET_ADDRESS
    (redacted, where a town is passed on)."""
    street = Finding(Category.PII, "STREET_ADDRESS", 0, 12, 0.95)
    assert scored_as(street) == Finding(Category.PII, "LOCATION", 0, 12, 0.95)
    town = Finding(Category.PII, "LOCATION", 14, 20, 0.9)
    assert scored_as(town) is town
    assert SCORED_AS == {"STREET_ADDRESS": "LOCATION"}
    case = PiiCase("12 Oak Street, Leeds", [ExpectedSpan("LOCATION", 0, 13)])
    assert names_as_places([case], [[street]]) == 0
