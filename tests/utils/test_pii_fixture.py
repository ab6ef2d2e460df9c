"""Checks of the labelled PII test set ``tests/fixtures/pii/comments.jsonl``.

Every labelled value must be real-looking *and valid* (checksums, numbering plans), the
unlabelled rest must not contain values that pass those checks, and the checked-in file must
be exactly what ``make_comments.py`` generates.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from importlib import metadata
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.utils.pii_eval import FIXTURE, labelled_spans, load_records

phonenumbers = pytest.importorskip("phonenumbers")
stdnum_iban = pytest.importorskip("stdnum.iban")
from stdnum.de import idnr  # noqa: E402
from stdnum.es import dni, nie  # noqa: E402
from stdnum.fr import nir  # noqa: E402
from stdnum.it import codicefiscale  # noqa: E402

LANGS = ("en", "de", "fr", "es")
KINDS = {"email", "phone", "card", "iban", "national_id", "url_token"}
REGIONS = {"en": ("GB", "US"), "de": ("DE",), "fr": ("FR",), "es": ("ES",)}

RECORDS = load_records(FIXTURE)
VALUES = [(r["id"], r["lang"], p["kind"], p["value"]) for r in RECORDS for p in r["pii"]]


def _of_kind(kind: str) -> list[tuple[str, str, str]]:
    return [(rid, lang, v) for rid, lang, k, v in VALUES if k == kind]


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


# HMRC: first letter not D F I Q U V; second not D F I O Q U V; some prefixes never issued.
NINO = re.compile(r"(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]")
EMAIL = re.compile(r"[\w.+-]+@(?:[\w-]+\.)+[^\W\d_]{2,}")
_AT = re.compile(r"\s*[\[(]\s*(?:at|arobase|arroba)\s*[\])]\s*|\s+(?:at|arobase|arroba)\s+", re.I)
_DOT = re.compile(
    r"\s*[\[(]\s*(?:dot|punkt|point|punto)\s*[\])]\s*|\s+(?:dot|punkt|point|punto)\s+", re.I
)
TOKENISH = re.compile(r"[A-Za-z0-9_.~-]{16,}")


def _deobfuscate(value: str) -> str:
    return _DOT.sub(".", _AT.sub("@", value))


def _is_national_id(value: str) -> bool:
    compact = re.sub(r"[\s.-]", "", value).upper()
    return (
        bool(NINO.fullmatch(compact))
        or dni.is_valid(compact)
        or nie.is_valid(compact)
        or codicefiscale.is_valid(compact)
        or (compact.isdigit() and len(compact) == 15 and nir.is_valid(compact))
        or (compact.isdigit() and len(compact) == 11 and idnr.is_valid(compact))
    )


def _has_token(url: str) -> bool:
    parts = urlsplit(url)
    if parts.password:
        return True
    pieces = [*parts.path.split("/"), *(v for _, v in parse_qsl(parts.query)), parts.fragment]
    for piece in pieces:
        for m in TOKENISH.finditer(piece):
            tok = m.group()
            if any(c.isdigit() for c in tok) and any(c.isalpha() for c in tok):
                return True
    return False


def _masked(record: dict) -> str:
    """The text with every labelled value blanked out."""
    text = list(record["text"])
    for s, e, _ in labelled_spans(record):
        text[s:e] = "\0" * (e - s)
    return "".join(text)


# ---------------------------------------------------------------------------- shape and counts


def test_records_are_well_formed():
    ids = [r["id"] for r in RECORDS]
    assert len(ids) == len(set(ids))
    for r in RECORDS:
        assert set(r) == {"id", "lang", "text", "pii"}
        assert r["lang"] in LANGS and r["id"].startswith(r["lang"] + "-")
        assert r["text"].strip() == r["text"] and r["text"]
        for p in r["pii"]:
            assert set(p) == {"kind", "value"} and p["kind"] in KINDS
            assert p["value"] and p["value"] in r["text"], (r["id"], p)
            assert p["value"].strip() == p["value"]


def test_counts():
    per_lang = Counter(r["lang"] for r in RECORDS)
    assert len(RECORDS) >= 320
    assert all(per_lang[lang] >= 75 for lang in LANGS), per_lang
    per_kind = Counter(k for _, _, k, _ in VALUES)
    assert all(per_kind[k] >= 25 for k in KINDS), per_kind
    share = sum(1 for r in RECORDS if r["pii"]) / len(RECORDS)
    assert 0.55 <= share <= 0.65, share
    for lang in LANGS:  # every language has hard negatives and every kind
        assert any(not r["pii"] for r in RECORDS if r["lang"] == lang)
        assert {k for _, lg, k, _ in VALUES if lg == lang} == KINDS


# ---------------------------------------------------------------------- labelled values are valid


@pytest.mark.parametrize(("rid", "lang", "value"), _of_kind("card"))
def test_cards_pass_luhn(rid, lang, value):
    digits = re.sub(r"[\s.-]", "", value)
    assert digits.isdigit() and 13 <= len(digits) <= 19, value
    assert luhn_ok(digits), value
    if digits[0] == "3" and digits[1] in "47":
        assert len(digits) == 15  # Amex


@pytest.mark.parametrize(("rid", "lang", "value"), _of_kind("iban"))
def test_ibans_are_valid(rid, lang, value):
    assert stdnum_iban.is_valid(value), value
    assert stdnum_iban.compact(value)[:2] in {"DE", "FR", "ES", "GB", "IT", "NL"}


@pytest.mark.parametrize(("rid", "lang", "value"), _of_kind("national_id"))
def test_national_ids_are_valid(rid, lang, value):
    assert _is_national_id(value), value


@pytest.mark.parametrize(("rid", "lang", "value"), _of_kind("phone"))
def test_phones_are_valid_for_their_region(rid, lang, value):
    valid = [r for r in REGIONS[lang] if phonenumbers.is_valid_number(phonenumbers.parse(value, r))]
    assert valid, value


@pytest.mark.parametrize(("rid", "lang", "value"), _of_kind("email"))
def test_emails_are_addresses(rid, lang, value):
    assert EMAIL.fullmatch(_deobfuscate(value)), value


@pytest.mark.parametrize(("rid", "lang", "value"), _of_kind("url_token"))
def test_urls_carry_a_token(rid, lang, value):
    parts = urlsplit(value)
    assert parts.scheme == "https" and parts.hostname, value
    assert _has_token(value), value


def test_obfuscated_and_international_emails_are_present():
    emails = [v for _, _, v in _of_kind("email")]
    assert sum(1 for v in emails if "@" not in v) >= 10
    assert sum(1 for v in emails if not v.isascii()) >= 10


# ---------------------------------------------------------------------- negatives are not PII


def test_no_unlabelled_luhn_valid_card_numbers():
    for r in RECORDS:
        for m in re.finditer(r"\d(?:[ .-]?\d)*", _masked(r)):
            digits = re.sub(r"\D", "", m.group())
            assert not (13 <= len(digits) <= 19 and luhn_ok(digits)), (r["id"], m.group())


def test_no_unlabelled_valid_ibans():
    for r in RECORDS:
        for m in re.finditer(r"[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}", _masked(r)):
            compact = m.group().replace(" ", "")
            assert not any(stdnum_iban.is_valid(compact[:n]) for n in range(15, len(compact) + 1))


def test_no_unlabelled_valid_national_ids():
    patterns = [
        r"\b[A-Za-z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-Da-d]\b",  # NINO
        r"\b\d{8}[ -]?[A-Za-z]\b",  # DNI
        r"\b[XYZxyz][ -]?\d{7}[ -]?[A-Za-z]\b",  # NIE
        r"\b[A-Za-z]{6}\d{2}[A-Za-z]\d{2}[A-Za-z]\d{3}[A-Za-z]\b",  # codice fiscale
        r"\b\d(?: ?\d){10}\b",  # Steuer-ID
        r"\b[12](?: ?\d){14}\b",  # NIR
    ]
    for r in RECORDS:
        text = _masked(r)
        for pattern in patterns:
            for m in re.finditer(pattern, text):
                assert not _is_national_id(m.group()), (r["id"], m.group())


DATE = re.compile(r"\d{1,2}([./-])\d{1,2}\1\d{2}(?:\d{2})?|\d{4}-\d{2}-\d{2}")


def test_no_unlabelled_phone_numbers():
    # dates such as 02.09.2024 can pass as German numbers: they are meant as hard negatives
    for r in RECORDS:
        text = _masked(r)
        for region in REGIONS[r["lang"]]:
            found = [
                m.raw_string
                for m in phonenumbers.PhoneNumberMatcher(text, region)
                if not DATE.fullmatch(m.raw_string)
            ]
            assert not found, (r["id"], found)


def test_no_unlabelled_addresses_or_token_urls():
    for r in RECORDS:
        text = _masked(r)
        assert "@" not in text, r["id"]
        for m in re.finditer(r"https?://\S+", text):
            assert not _has_token(m.group().rstrip(".,)")), (r["id"], m.group())


def test_hard_negatives_are_present():
    negative_text = " ".join(_masked(r) for r in RECORDS)
    # 16-digit references that look like cards but fail Luhn, in groups of four and compact
    assert len(re.findall(r"(?<!\d)(?<!\d )\d{4} \d{4} \d{4} \d{4}(?! ?\d)", negative_text)) >= 4
    assert len(re.findall(r"(?<!\d)\d{16}(?!\d)", negative_text)) >= 4
    for marker in ["1Z", "JJD", "**** **** ****", "1.299,00 €", "$1,299.99", "15/03/2024"]:
        assert marker in negative_text, marker


# ---------------------------------------------------------------------------- reproducible


def test_file_is_what_the_generator_writes():
    path = FIXTURE.with_name("make_comments.py")
    spec = importlib.util.spec_from_file_location("make_comments", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    installed = {name: metadata.version(name) for name in module.GENERATED_WITH}
    if installed != module.GENERATED_WITH:
        pytest.skip(f"generated with {module.GENERATED_WITH}, installed {installed}")
    assert FIXTURE.read_text(encoding="utf-8") == module.dumps(module.build())
