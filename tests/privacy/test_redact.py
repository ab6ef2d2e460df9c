from __future__ import annotations

import pytest

from cxroi.errors import CxroiError
from cxroi.privacy import Redactor, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mail jo.doe+x@mail.example.co.uk today", "Mail [EMAIL] today"),
        ("write to jo (at) gmail (dot) com", "write to [EMAIL]"),
        ("call +44 20 7946 0958.", "call [PHONE]."),
        ("call (555) 123-4567 now", "call [PHONE] now"),
        ("tel 030 1234567", "tel [PHONE]"),
        ("card 4111 1111 1111 1111 ok", "card [CARD] ok"),
        ("card 4111-1111-1111-1111", "card [CARD]"),
        ("card 5500005555555559", "card [CARD]"),
        ("reset https://shop.com/reset?token=abc123 now", "reset [URL] now"),
        ("see https://x.com/u/a8f9d0c1b2e3f4a5b6c7d8.", "see [URL]."),
    ],
)
def test_personal_data_is_replaced(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 12345 arrived in 2024 and cost 1299.00",
        "on 2024-01-15 it broke",
        "ticket #4567890 is still open",
        "see https://example.com/help for details",
        "5 stars, 10/10 would buy again",
    ],
)
def test_ordinary_numbers_and_plain_links_are_kept(text):
    assert redact(text) == text


def test_kinds_can_be_switched_off_and_urls_all():
    r = Redactor(phones=False, urls="all")
    assert r("call 555-123-4567 or see https://example.com/help") == (
        "call 555-123-4567 or see [URL]"
    )
    assert Redactor(enabled=False)("a@b.com") == "a@b.com"


def test_from_config_rejects_unknown_keys():
    assert Redactor.from_config({"emails": False}).emails is False
    with pytest.raises(CxroiError, match="unknown key"):
        Redactor.from_config({"email": False})


def test_many_keeps_missing_values():
    assert Redactor().many(["x@y.org", None, float("nan")]) == ["[EMAIL]", None, None]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my key sk_live_4eC39HqLyjWDarjtT1zdp7dc leaked", "my key [SECRET] leaked"),
        ("AWS AKIAIOSFODNN7EXAMPLE in the log", "AWS [SECRET] in the log"),
        ("password: hunter2 did not work", "[SECRET] did not work"),
        ("Passwort=geheim123 bitte", "[SECRET] bitte"),
        ("login at https://jo:pw123@shop.example/", "login at [URL]"),
        (
            "IBAN DE89 3704 0044 0532 0130 00 and FR1420041010050500013M02606",
            "IBAN [IBAN] and [IBAN]",
        ),
        ("mi DNI es 12.345.678-Z", "mi DNI es [NATIONAL_ID]"),
        ("NINO AB 12 34 56 C please", "NINO [NATIONAL_ID] please"),
        ("mail jürgen@beispiel.de", "mail [EMAIL]"),
        ("écrivez à jean [arobase] free [point] fr", "écrivez à [EMAIL]"),
    ],
)
def test_secrets_ids_and_obfuscations(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "ref 4111 1111 1111 1112 is not a card",  # fails Luhn
        "barcode 4006381333931 on the box",  # EAN-13
        "the store at Main St dot com is closed",
        "DE89 3704 0044 0532 0130 01 is a typo",  # wrong IBAN check digits
        "order 2024-00123 shipped",
        "https://shop.example/orders?page=2&sort=date",
    ],
)
def test_hard_negatives_are_kept(text):
    assert redact(text) == text
