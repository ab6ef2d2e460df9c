"""Sanity checks of the held-out PII test set (``tests/fixtures/pii_holdout/comments.jsonl``).

The set is written by ``tests/fixtures/pii_holdout/make_holdout.py``. These tests check that
it is large and balanced enough, that every label is an exact substring of its comment, that
every labelled value is *valid* personal data of its kind, and that the text outside the
labels holds no card number, IBAN or e-mail the labels missed.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import phonenumbers
import pytest
from stdnum import iban, luhn
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.it import codicefiscale

from tests.utils.pii_eval import labelled_spans, load_records

HOLDOUT = Path(__file__).resolve().parents[1] / "fixtures" / "pii_holdout" / "comments.jsonl"
LANGS = ("en", "de", "fr", "es")
KINDS = ("email", "phone", "card", "iban", "national_id", "url_token")
PHONE_REGIONS = {"GB", "DE", "FR", "ES", "IT", "US"}

RECORDS = load_records(HOLDOUT)


def _items(kind: str) -> list[tuple[str, dict]]:
    return [(r["id"], p) for r in RECORDS for p in r["pii"] if p["kind"] == kind]


def _ids(items: list[tuple[str, dict]]) -> list[str]:
    return [f"{rid}:{p['value']}" for rid, p in items]


# --- shape and counts -------------------------------------------------------------------------


def test_records_are_well_formed() -> None:
    ids = [r["id"] for r in RECORDS]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for r in RECORDS:
        assert set(r) == {"id", "lang", "text", "pii"}, r["id"]
        assert r["lang"] in LANGS, r["id"]
        assert re.fullmatch(rf"{r['lang']}-h\d{{3}}", r["id"]), r["id"]
        assert isinstance(r["text"], str) and r["text"].strip(), r["id"]
        for p in r["pii"]:
            assert p["kind"] in KINDS, (r["id"], p)
            assert isinstance(p["value"], str) and p["value"].strip() == p["value"] != "", (
                r["id"],
                p,
            )
            allowed = {"kind", "value", "region"} if p["kind"] == "phone" else {"kind", "value"}
            assert set(p) <= allowed, (r["id"], p)
    texts = [r["text"] for r in RECORDS]
    assert len(texts) == len(set(texts)), "duplicate comment texts"


def test_counts() -> None:
    assert len(RECORDS) >= 320
    by_lang = Counter(r["lang"] for r in RECORDS)
    for lang in LANGS:
        assert by_lang[lang] >= 75, (lang, by_lang[lang])
    by_kind = Counter(p["kind"] for r in RECORDS for p in r["pii"])
    for kind in KINDS:
        assert by_kind[kind] >= 25, (kind, by_kind[kind])


def test_about_sixty_percent_carry_pii() -> None:
    for lang in (*LANGS, None):
        recs = [r for r in RECORDS if lang is None or r["lang"] == lang]
        share = sum(1 for r in recs if r["pii"]) / len(recs)
        assert 0.5 <= share <= 0.7, (lang, share)
    assert sum(1 for r in RECORDS if len(r["pii"]) > 1) >= 30, "too few multi-PII comments"


def test_every_value_occurs_in_its_text() -> None:
    for r in RECORDS:
        for p in r["pii"]:
            assert p["value"] in r["text"], (r["id"], p["value"])
        labelled_spans(r)  # the evaluation helper agrees


# --- validity of labelled values ----------------------------------------------------------------

CARD_SHAPE = re.compile(r"\d{13,19}|\d{4}([ .-])\d{4}\1\d{4}\1\d{4}|\d{4}([ .-])\d{6}\2\d{5}")


@pytest.mark.parametrize("rid,item", _items("card"), ids=_ids(_items("card")))
def test_cards_pass_luhn(rid: str, item: dict) -> None:
    value = item["value"]
    assert CARD_SHAPE.fullmatch(value), value
    number = re.sub(r"[ .-]", "", value)
    assert 13 <= len(number) <= 19
    assert luhn.is_valid(number), value


@pytest.mark.parametrize("rid,item", _items("iban"), ids=_ids(_items("iban")))
def test_ibans_are_valid(rid: str, item: dict) -> None:
    assert iban.is_valid(item["value"]), item["value"]
    assert iban.compact(item["value"])[:2] in {"DE", "FR", "ES", "GB", "IT", "NL", "BE", "AT", "CH"}


def test_iban_countries_and_styles_are_covered() -> None:
    values = [p["value"] for _, p in _items("iban")]
    countries = {iban.compact(v)[:2] for v in values}
    assert countries == {"DE", "FR", "ES", "GB", "IT", "NL", "BE", "AT", "CH"}
    assert any(" " in v for v in values) and any(" " not in v for v in values)
    assert any(v[:2].islower() for v in values)


@pytest.mark.parametrize("rid,item", _items("phone"), ids=_ids(_items("phone")))
def test_phones_are_valid_in_their_region(rid: str, item: dict) -> None:
    value, region = item["value"], item.get("region")
    assert region in PHONE_REGIONS, item
    text = "+" + value[2:] if value.startswith("00") else value
    number = phonenumbers.parse(text, region)
    assert phonenumbers.is_valid_number(number), value
    assert phonenumbers.region_code_for_number(number) == region, value


def test_phone_regions_and_formats_are_covered() -> None:
    items = [p for _, p in _items("phone")]
    assert {p["region"] for p in items} == PHONE_REGIONS
    values = [p["value"] for p in items]
    assert any(v.startswith("+") for v in values) and any(v.startswith("00") for v in values)
    assert any("/" in v for v in values) and any("(" in v for v in values)
    assert any("." in v for v in values) and any("-" in v for v in values)
    assert any(v.isdigit() for v in values)


NINO = re.compile(r"([A-Z])([A-Z]) ?\d{2} ?\d{2} ?\d{2} ?[A-D]")
NINO_BAD_FIRST, NINO_BAD_SECOND = set("DFIQUV"), set("DFIOQUV")
NINO_BAD_PREFIX = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


def _nino_ok(value: str) -> bool:
    m = NINO.fullmatch(value)
    if not m:
        return False
    first, second = m.groups()
    return (
        first not in NINO_BAD_FIRST
        and second not in NINO_BAD_SECOND
        and first + second not in NINO_BAD_PREFIX
    )


def national_id_scheme(value: str) -> str | None:
    """The scheme whose shape ``value`` has and whose checks it passes, if any."""
    if NINO.fullmatch(value):
        return "gb.nino" if _nino_ok(value) else None
    if re.fullmatch(r"[XYZ]-?\d{7}-?[A-Z]", value):
        return "es.nie" if nie.is_valid(value.replace("-", "")) else None
    if re.fullmatch(r"\d{2}\.\d{3}\.\d{3}-?[A-Z]|\d{8}-?[A-Z]", value):
        return "es.dni" if dni.is_valid(value.replace(".", "").replace("-", "")) else None
    if re.fullmatch(r"[A-Za-z]{6}\d{2}[A-Za-z]\d{2}[A-Za-z]\d{3}[A-Za-z]", value):
        return "it.codicefiscale" if codicefiscale.is_valid(value) else None
    if re.fullmatch(r"[12] ?\d{2} ?\d{2} ?(\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}", value):
        return "fr.nir" if nir.is_valid(value.replace(" ", "")) else None
    if re.fullmatch(r"\d{11}|\d{2} \d{3} \d{3} \d{3}", value):
        return "de.idnr" if idnr.is_valid(value.replace(" ", "")) else None
    return None


@pytest.mark.parametrize("rid,item", _items("national_id"), ids=_ids(_items("national_id")))
def test_national_ids_are_valid(rid: str, item: dict) -> None:
    assert national_id_scheme(item["value"]) is not None, item["value"]


def test_national_id_schemes_are_covered() -> None:
    schemes = Counter(national_id_scheme(p["value"]) for _, p in _items("national_id"))
    assert set(schemes) == {"gb.nino", "es.nie", "es.dni", "it.codicefiscale", "fr.nir", "de.idnr"}


def test_emails_and_url_tokens_look_right() -> None:
    emails = [p["value"] for _, p in _items("email")]
    plain = [e for e in emails if "@" in e]
    assert all(re.fullmatch(r"[^\s@]+@[^\s@]+\.[^\s@]+", e) for e in plain), plain
    obfuscated = [e for e in emails if "@" not in e]
    assert len(obfuscated) >= 8
    assert all(re.search(r"at\b|arobase|arroba|ät", e, re.I) for e in obfuscated), obfuscated
    assert any("+" in e for e in plain) and any(e.isupper() for e in plain)
    assert any(re.search(r"[^\x00-\x7f].*@", e) for e in plain), "internationalised local part"
    assert any(re.search(r"@.*[^\x00-\x7f]", e) for e in plain), "internationalised domain"
    for _, p in _items("url_token"):
        assert re.fullmatch(r"(https?|s?ftp)://\S+", p["value"]), p["value"]


# --- nothing personal outside the labels ----------------------------------------------------------

DIGIT_RUN = re.compile(r"\d(?:[ .-]?\d)*")
IBAN_CANDIDATE = re.compile(r"[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){10,32}")


def _remainder(record: dict) -> str:
    text = record["text"]
    for s, e, _ in sorted(labelled_spans(record), reverse=True):
        text = text[:s] + "\n" + text[e:]
    return text


def _luhn_runs(text: str) -> list[str]:
    found = []
    for m in DIGIT_RUN.finditer(text):
        run = re.sub(r"\D", "", m.group())
        if 13 <= len(run) <= 19 and luhn.is_valid(run):
            found.append(m.group())
        for c in re.findall(r"\d+", m.group()):
            if 13 <= len(c) <= 19 and luhn.is_valid(c):
                found.append(c)
    return found


def _ibans(text: str) -> list[str]:
    found = []
    for m in IBAN_CANDIDATE.finditer(text):
        compact = m.group().replace(" ", "")
        found += [compact[:n] for n in range(15, len(compact) + 1) if iban.is_valid(compact[:n])]
    return found


@pytest.mark.parametrize("record", RECORDS, ids=[r["id"] for r in RECORDS])
def test_unlabelled_text_holds_no_card_iban_or_email(record: dict) -> None:
    rest = _remainder(record)
    assert "@" not in rest, rest
    assert not _luhn_runs(rest), _luhn_runs(rest)
    assert not _ibans(rest), _ibans(rest)


def test_hard_negatives_are_hard() -> None:
    negatives = " ".join(r["text"] for r in RECORDS if not r["pii"])
    assert re.search(r"\*{4} \d{4}", negatives), "masked card"
    assert re.search(r"\?\S*=\S*&", negatives), "public URL with a harmless query string"
    assert re.search(r"\b\d{13}\b", negatives), "barcode"
    assert re.search(r"\b\d{4}( \d{4}){3}\b", negatives), "16-digit non-Luhn reference"
    assert re.search(r"\b(DE|FR|ES|GB)\d{2}( [A-Z0-9]{4}){3,}", negatives), "bad-checksum IBAN"
    assert re.search(r"\b\d{1,2}/10\b", negatives), "rating"
    assert re.search(r"\b20\d\d-\d{5}\b", negatives), "year-based reference"
