"""Find personal data in free text, confirmed by validators rather than loose patterns.

Each kind has a candidate pattern and a check that a real value passes:

``email``
    ``local@domain.tld`` with Unicode letters (``jürgen@beispiel.de``), and the obfuscated
    forms ``[at]``/``(at)``/`` at `` with ``[dot]``/``(dot)``/`` dot ``.
``phone``
    Digit runs that :mod:`phonenumbers` (Google's libphonenumber metadata) accepts as a valid
    number: international (``+44 20 7946 0958``, ``0049 30 …``) for any country, national
    numbers of at least nine digits for the regions of :data:`PHONE_REGIONS`. Numbers after
    an order, invoice or ticket word are left alone.
``card``
    13 to 19 digits with any separators (space, dash, dot) or none, glued to text or not,
    that pass the Luhn check (python-stdnum); a non-Luhn reference number is no card.
``iban``
    Country code, check digits and account, compact or grouped, that pass the ISO 13616
    mod-97 check (python-stdnum).
``national_id``
    UK National Insurance numbers (HMRC's prefix rules), Spanish DNI and NIE, Italian codice
    fiscale, French NIR, German Steuer-ID — each by its python-stdnum checksum (the NINO has
    none; its letter rules are checked).
``url``
    URLs carrying a token or credentials (query, fragment, user info, a long mixed segment).
``secret``
    API keys of well-known shapes and ``password: …`` phrases.

The validators are python-stdnum and phonenumbers; only the candidate patterns and the
overlap rule are written here, because no well-kept library finds these kinds in running text
across languages (Presidio needs a spaCy model download, which cannot run offline here).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["KINDS", "PHONE_REGIONS", "Span", "find_pii"]

KINDS = ("url", "secret", "email", "iban", "national_id", "card", "phone")
"""The kinds, in priority order when two findings overlap."""

PHONE_REGIONS = ("GB", "DE", "FR", "ES", "IT", "NL", "US")
"""Regions whose national phone formats are recognised without a ``+`` prefix."""


@dataclass(frozen=True)
class Span:
    """A finding: ``text[start:end]`` is personal data of ``kind``."""

    start: int
    end: int
    kind: str


# -- candidates ----------------------------------------------------------------------------------
_AT_SYMBOL = r"(?:@|\s?[\[(](?:at|@|arobase|arroba)[\])]\s?)"
_AT_WORD = r"\s(?:arobase|arroba|chez)\s"
_AT_PLAIN = r"\s(?:at)\s"
_DOT_SYMBOL = r"(?:\.|\s?[\[(](?:dot|punkt|point|punto)[\])]\s?)"
_DOT_WORD = r"\s(?:dot|punkt|point|punto)\s"
_DOT_ANY = rf"(?:{_DOT_SYMBOL}|{_DOT_WORD})"
_LOCAL = r"(?<![\w.+\-])[\w.%+\-]*\w"
_TLD = r"[^\W\d_]{2,}(?![\w])"
_EMAIL = re.compile(
    # symbol forms (jo@x.org, jo [at] x [dot] org), the unambiguous at-words (arobase,
    # arroba) with any dot, and the English " at " only with a spelled-out dot
    rf"{_LOCAL}(?:{_AT_SYMBOL}|{_AT_WORD})[\w\-]+(?:{_DOT_ANY}[\w\-]+)*{_DOT_ANY}{_TLD}"
    rf"|{_LOCAL}{_AT_PLAIN}[\w\-]+(?:{_DOT_WORD}[\w\-]+)*{_DOT_WORD}{_TLD}",
    re.IGNORECASE,
)
_URL = re.compile(r"\b(?:[a-z][a-z0-9+.\-]{1,9}://|www\.)[^\s<>\"']+", re.IGNORECASE)
_TOKEN_SEGMENT = re.compile(r"(?=[\w\-]*\d)(?=[\w\-]*[A-Za-z])[\w\-]{16,}")
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{2}\d{2}(?:(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,3})?"
    r"|[A-Za-z0-9]{10,30}))"
)
_CARD = re.compile(r"(?<!\d)(\d(?:[ .\-]?\d){12,18})(?!\d)")
_PHONE = re.compile(r"(?<![\w+])((?:\(?\+|00)?\(?\d[\d ().\-/]{5,}\d)(?!\d)")
_NINO = re.compile(
    r"(?<![A-Za-z0-9])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
    r" ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])",
    re.IGNORECASE,
)
_DNI = re.compile(r"(?<![A-Za-z0-9.])\d{2}\.?\d{3}\.?\d{3}[ \-]?[A-Za-z](?![A-Za-z0-9])")
_NIE = re.compile(r"(?<![A-Za-z0-9])[XYZxyz][ \-]?\d{7}[ \-]?[A-Za-z](?![A-Za-z0-9])")
_CF = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{6}[0-9LMNPQRSTUVlmnpqrstuv]{2}[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{2}"
    r"[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{3}[A-Za-z](?![A-Za-z0-9])"
)
_NIR = re.compile(r"(?<!\d)[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[ABab]) ?\d{3} ?\d{3} ?\d{2}(?!\d)")
_IDNR = re.compile(r"(?<!\d)\d{2} ?\d{3} ?\d{3} ?\d{3}(?!\d)")
_SECRET = re.compile(
    r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}\b"
    r"|\bxox[abpr]-[A-Za-z0-9\-]{10,}\b"
    r"|(?i:\b(?:password|passwort|mot de passe|contraseña|pwd)\s*[:=]\s*\S+)"
)
_DATE = re.compile(
    r"\d{4}[./\-]\d{1,2}[./\-]\d{1,2}|\d{1,2}[./\-]\d{1,2}[./\-]\d{2,4}|\d{1,2}:\d{2}"
)
_YEAR_REF = re.compile(r"(?:19|20)\d{2}[-/]\d{3,}")
_NOT_PHONE_BEFORE = re.compile(
    r"(?:#|\b(?:n[°ºo]\.?|nr\.?|no\.?|nº|order|invoice|ticket|ref(?:erence)?|tracking|bestell\w*|"
    r"rechnung\w*|auftrag\w*|sendung\w*|commande|facture|suivi|pedido|factura|seguimiento|"
    r"referencia|ordine|fattura|code|serial|sku|iban|bic|kunden\w*|client|cliente|account|"
    r"barcode|ean|gtin|upc|isbn|artikel\w*|article|artículo|produit|producto))"
    r"\s*[:#]?\s*$",
    re.IGNORECASE,
)


# Gates: a text runs a kind's pattern only when it holds what every match of that pattern
# holds. Substring tests on the folded text (a few plain ``in`` tests cost less than one
# search of an alternation, and these gates run on every comment stored or analysed): most
# comments run none of the patterns.
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
"""The non-ASCII letters that the patterns' IGNORECASE matches to an ASCII letter (the
dotted and dotless i, the long s, the Kelvin sign), as that letter."""
_KEY_HINTS = ("sk_", "pk_", "rk_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_")
_SECRET_HINTS = ("akia", "xox", "passwor", "pwd", "mot de passe", "contrase")
_AT_HINTS = ("at)", "at]", "arobase", "arroba", "chez")  # "[at]", "(at)" ... and the words
_DOT_WORDS = ("dot", "punkt", "point", "punto")
_AT_PLAIN_HINT = re.compile(r"\sat\s")
_DOT_WORD_HINT = re.compile(r"\s(?:dot|punkt|point|punto)\s")
_DIGIT = re.compile(r"\d")  # every pattern the gate guards needs one (isdigit is wider)


def _folded(text: str) -> str:
    """``text`` in lower case, each letter as the patterns' IGNORECASE sees it."""
    return text.lower() if text.isascii() else text.translate(_FOLD).lower()


def _may_hold_secret(low: str) -> bool:
    """False only when :data:`_SECRET` cannot match the text folded to ``low``."""
    if "_" in low and any(h in low for h in _KEY_HINTS):
        return True
    return any(h in low for h in _SECRET_HINTS)


def _may_hold_email(text: str, low: str) -> bool:
    """False only when :data:`_EMAIL` cannot match ``text`` (folded to ``low``): its first
    branch needs "@", a bracketed "at" or an at-word, its second the English " at " and a
    spelled-out dot word."""
    if "@" in text or any(h in low for h in _AT_HINTS):
        return True
    return (
        any(w in low for w in _DOT_WORDS)
        and _DOT_WORD_HINT.search(low) is not None
        and _AT_PLAIN_HINT.search(low) is not None
    )


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


# -- checks -----------------------------------------------------------------------------------
def _luhn(number: str) -> bool:
    from stdnum import luhn

    return luhn.is_valid(number)


def _ean(number: str) -> bool:
    from stdnum import ean

    return ean.is_valid(number)


def _iban_spans(text: str) -> Iterator[tuple[int, int]]:
    from stdnum import iban

    pos = 0
    while m := _IBAN.search(text, pos):
        raw = m.group(1)
        pos = m.start(1) + 1
        # the pattern may run into the next word: try the longest valid prefix
        for end in range(len(raw), 14, -1):
            cand = raw[:end]
            if cand.endswith(" "):
                continue
            if iban.is_valid(cand.replace(" ", "").upper()):
                yield m.start(1), m.start(1) + end
                pos = m.start(1) + end
                break


def _nino_ok(s: str) -> bool:
    return True  # the pattern carries HMRC's letter rules; a NINO has no check digit


def _dni_ok(s: str) -> bool:
    from stdnum.es import dni

    return dni.is_valid(re.sub(r"[ .\-]", "", s))


def _nie_ok(s: str) -> bool:
    from stdnum.es import nie

    return nie.is_valid(re.sub(r"[ \-]", "", s))


def _cf_ok(s: str) -> bool:
    from stdnum.it import codicefiscale

    return codicefiscale.is_valid(s)


def _nir_ok(s: str) -> bool:
    from stdnum.fr import nir

    return nir.is_valid(s.replace(" ", ""))


def _idnr_ok(s: str) -> bool:
    from stdnum.de import idnr

    return idnr.is_valid(s.replace(" ", ""))


_IDS: tuple[tuple[re.Pattern[str], Callable[[str], bool]], ...] = (
    (_NINO, _nino_ok),
    (_NIE, _nie_ok),
    (_DNI, _dni_ok),
    (_CF, _cf_ok),
    (_NIR, _nir_ok),
    (_IDNR, _idnr_ok),
)


def _phone_ok(cand: str, regions: tuple[str, ...]) -> bool:
    import phonenumbers

    s = cand.strip().lstrip("(")
    digits = _digits(s)
    if not 7 <= len(digits) <= 15 or _DATE.fullmatch(s) or _YEAR_REF.fullmatch(s):
        return False
    if s.startswith("00"):
        s = "+" + s[2:]
    tries = ["ZZ"] if s.startswith("+") else list(regions)
    if not s.startswith("+") and len(digits) < 9:
        return False
    if not s.startswith(("+", "0")) and len(digits) == 13 and s.isdigit() and _ean(s):
        return False  # an EAN-13 barcode, not a national number
    for region in tries:
        try:
            n = phonenumbers.parse(s, None if region == "ZZ" else region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(n):
            return True
    return False


_SECRET_PARAM = re.compile(
    r"(?:^|[_\-])(?:token|key|apikey|code|session|sid|auth|reset|password|passwd|pwd|secret|"
    r"signature|sig|otp|jwt|hash|access|refresh|email|mail|user|uid|login|ticket|nonce|state)"
    r"(?:$|[_\-])",
    re.IGNORECASE,
)


def _url_has_token(url: str) -> bool:
    """A token, credentials or personal value in the URL (not ``?page=2&sort=date``)."""
    from urllib.parse import parse_qsl, urlsplit

    rest = re.sub(r"^[a-z][a-z0-9+.\-]*://", "", url, flags=re.IGNORECASE)
    if "@" in rest.split("/", 1)[0]:
        return True
    parts = urlsplit(url if "://" in url else "http://" + url)
    segments = [*parts.path.split("/")[1:], parts.fragment]
    if any(_TOKEN_SEGMENT.fullmatch(seg) for seg in segments if seg):
        return True
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    pairs += parse_qsl(parts.fragment, keep_blank_values=True)
    for name, value in pairs:
        if _SECRET_PARAM.search(name) or _TOKEN_SEGMENT.fullmatch(value) or "@" in value:
            return True
    return False


def _trim_url(m: re.Match[str]) -> tuple[int, int]:
    url = m.group(0)
    end = m.end()
    while url and url[-1] in ".,;:!?)]":
        url, end = url[:-1], end - 1
    return m.start(), end


# -- finding ------------------------------------------------------------------------------------
def find_pii(
    text: str,
    *,
    kinds: tuple[str, ...] = KINDS,
    urls: str = "tokens",
    regions: tuple[str, ...] = PHONE_REGIONS,
) -> list[Span]:
    """Every finding in ``text``, left to right, without overlaps.

    Parameters
    ----------
    kinds
        The kinds to look for (see :data:`KINDS`).
    urls
        ``"tokens"``: URLs carrying a token or credentials; ``"all"``: every URL.
    regions
        Regions whose national phone numbers are recognised.

    Examples
    --------
    >>> [s.kind for s in find_pii("IBAN DE89 3704 0044 0532 0130 00, mail jürgen@beispiel.de")]
    ['iban', 'email']
    """
    found: list[tuple[int, int, str]] = []
    has_digit = _DIGIT.search(text) is not None
    low = _folded(text)
    if "url" in kinds and ("://" in text or "www." in low):
        for m in _URL.finditer(text):
            a, b = _trim_url(m)
            if urls == "all" or _url_has_token(text[a:b]):
                found.append((a, b, "url"))
    if "secret" in kinds and _may_hold_secret(low):
        found += [(m.start(), m.end(), "secret") for m in _SECRET.finditer(text)]
    if "email" in kinds and _may_hold_email(text, low):
        found += [(m.start(), m.end(), "email") for m in _EMAIL.finditer(text)]
    if has_digit and "iban" in kinds:
        found += [(a, b, "iban") for a, b in _iban_spans(text)]
    if has_digit and "national_id" in kinds:
        for pattern, ok in _IDS:
            found += [(m.start(), m.end(), "national_id") for m in pattern.finditer(text)
                      if ok(m.group(0))]  # fmt: skip
    if has_digit and "card" in kinds:
        for m in _CARD.finditer(text):
            if _luhn(_digits(m.group(1))):
                found.append((m.start(1), m.end(1), "card"))
    if has_digit and "phone" in kinds:
        for m in _PHONE.finditer(text):
            cand = m.group(1).rstrip(" ().-/")
            if _NOT_PHONE_BEFORE.search(text[max(0, m.start(1) - 24) : m.start(1)]):
                continue
            if _phone_ok(cand, regions):
                found.append((m.start(1), m.start(1) + len(cand), "phone"))
    return _resolve(found)


def _resolve(found: list[tuple[int, int, str]]) -> list[Span]:
    """Drop overlaps: the higher-priority kind wins, then the longer span."""
    if not found:  # most texts
        return []
    rank = {k: i for i, k in enumerate(KINDS)}
    chosen: list[tuple[int, int, str]] = []
    for a, b, kind in sorted(found, key=lambda f: (rank[f[2]], -(f[1] - f[0]), f[0])):
        if all(b <= s or a >= e for s, e, _ in chosen):
            chosen.append((a, b, kind))
    return [Span(a, b, k) for a, b, k in sorted(chosen)]
