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
