"""A card's expiry date and security code, found where they are card data and nowhere
else: the phrasings customers use, and dates, quantities and codes that are not card data."""

from __future__ import annotations

import pytest

from switchboard.guard.card_data import CARD_CVV, CARD_EXPIRY, find_card_data, luhn_valid

pytestmark = pytest.mark.unit


def found(text: str) -> list[tuple[str, str]]:
    return [(kind, text[start:end]) for kind, start, end in find_card_data(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my card 4111 1111 1111 1111 exp 04/27 cvv 123", [("04/27", "123")]),
        ("Visa ending 1111, expires 04/2027, CVC: 7421", [("04/2027", "7421")]),
        ("card expiry date is 4/27 and the security code is 318", [("4/27", "318")]),
        ("4111111111111111 04/27 123", [("04/27", "123")]),
        ("4111-1111-1111-1111, 11/2029, 908", [("11/2029", "908")]),
        ("Card valid thru 12/26. The 3 digits on the back are 552.", [("12/26", "552")]),
        ("exp. date: 0925, CVV2 = 044", [("0925", "044")]),
        ("my mastercard expires in April 2028", [("April 2028", None)]),
        ("The three-digit code on the back of my card is 981", [(None, "981")]),
        ("cvv 123", [(None, "123")]),
        ("123 is the cvv, exp 06/27", [("06/27", "123")]),
        ("Amex 3782 822463 10005, CID 4821, good thru 08/30", [("08/30", "4821")]),
        ("Meine Karte, gültig bis 05/28, Prüfnummer 311", [("05/28", "311")]),
    ],
)
def test_expiry_and_security_code_as_customers_write_them(
    text: str, expected: list[tuple[str | None, str | None]]
) -> None:
    [(expiry, cvv)] = expected
    want = [(CARD_EXPIRY, expiry)] if expiry else []
    want += [(CARD_CVV, cvv)] if cvv else []
    assert sorted(found(text)) == sorted(want)


@pytest.mark.parametrize(
    "text",
    [
        "Where is my order LK-204881? It was due on 04/27.",
        "I was charged 129.95 EUR on 12/03/2025 for 3 items.",
        "My card was charged twice on 04/12, order LK-551203.",
        "I paid by card for 2 jackets, size 10/12, total 123 EUR.",
        "The discount code SPRING25 expires on 30/06, can I still use it?",
        "My return window expires 04/27, how do I send the boots back?",
        "How long does express delivery take? I ordered on 11/28.",
        "The security of my account matters, I changed my password 3 times.",
        "I need 123 tent pegs and 4 poles, delivered by 05/28.",
        "My phone's 2FA code is 482913 and it doesn't work.",
        "Can I pay by credit card? The total is 249.00 for order LK-100214.",
        "I bought 2 cards, both from 2024, order LK-100300.",
    ],
)
def test_dates_quantities_and_codes_that_are_not_card_data(text: str) -> None:
    assert found(text) == []


def test_a_card_number_must_pass_luhn_to_give_context() -> None:
    assert luhn_valid("4111 1111 1111 1111")
    assert not luhn_valid("4111 1111 1111 1112")
    assert found("4111 1111 1111 1112 04/27 123") == []
    assert found("4111 1111 1111 1111 04/27 123") == [(CARD_EXPIRY, "04/27"), (CARD_CVV, "123")]


def test_spans_are_exact_and_in_order() -> None:
    text = "exp 04/27 cvv 123"
    assert find_card_data(text) == [(CARD_EXPIRY, 4, 9), (CARD_CVV, 14, 17)]


def test_a_cue_across_a_question_and_a_month_name_needs_a_year() -> None:
    assert found("Do you need the CVC? It's 945.") == [(CARD_CVV, "945")]
    assert found("my visa expires Apr '28") == [(CARD_EXPIRY, "Apr '28")]
    assert found("Can I pay by credit card? The offer expires December 21.") == []
