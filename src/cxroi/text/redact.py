"""Redaction of personal data in free text, applied before comments are analysed or shown.

Four kinds of personal data are replaced by a placeholder token:

- ``[EMAIL]`` — e-mail addresses (``name@host.tld``, also ``name (at) host (dot) tld``);
- ``[URL]`` — URLs that carry a token: a query string or fragment, user info, or a path
  segment of 16+ characters mixing letters and digits (reset links, session ids). Plain links
  such as ``https://example.com/help`` are kept unless ``urls="all"``;
- ``[CARD]`` — card-like numbers: 13 to 19 digits, optionally grouped by spaces or dashes
  (every such number is redacted, Luhn-valid or not, since a mistyped card is still personal);
- ``[PHONE]`` — phone numbers: 7 to 15 digits with an optional ``+`` country code, brackets,
  spaces, dots or dashes; at least 9 digits, or separators in the usual phone places, so that
  order numbers, years and prices stay readable.

Redaction is on by default everywhere in :mod:`cxroi.text`; a workspace can switch a kind off
in ``cxroi.toml``::

    [themes.redact]
    enabled = true
    phones = false        # e.g. when comments never hold phone numbers but many part numbers
    urls = "all"          # "tokens" (default), "all" or false
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from cxroi.errors import CxroiError

__all__ = ["Redactor", "redact"]

_EMAIL = re.compile(
    r"[A-Za-z0-9._%+\-]+(?:@|\s?\(at\)\s?|\s?\[at\]\s?)[A-Za-z0-9\-]+"
    r"(?:(?:\.|\s?\(dot\)\s?|\s?\[dot\]\s?)[A-Za-z0-9\-]+)*(?:\.|\s?\(dot\)\s?)[A-Za-z]{2,}"
)
_URL = re.compile(r"\b(?:https?://|ftp://|www\.)[^\s<>\"']+", re.IGNORECASE)
_TOKEN_SEGMENT = re.compile(r"(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{16,}")
# 13-19 digits in groups separated by single spaces or dashes.
_CARD = re.compile(r"(?<![\d\w])\d(?:[ \-]?\d){12,18}(?![\d\w])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{1,5}\)[\s.\-]?)?\d[\d\s.\-]{5,}\d(?![\w])"
)

_DATE = re.compile(r"\d{4}[./\-]\d{1,2}[./\-]\d{1,2}|\d{1,2}[./\-]\d{1,2}[./\-]\d{2,4}")


def _digits(s: str) -> int:
    return sum(c.isdigit() for c in s)


def _phone_like(s: str) -> bool:
    n = _digits(s)
    if not 7 <= n <= 15 or _DATE.fullmatch(s.strip()):
        return False
    if s.startswith("+") or "(" in s or n >= 9:
        return True
    # 7-8 digits: only when grouped like a local number (123-4567, 12 34 56 78).
    groups = re.split(r"[\s.\-]+", s)
    return len(groups) >= 2 and all(2 <= len(g) <= 4 for g in groups)


@dataclass(frozen=True)
class Redactor:
    """Replace personal data in text by placeholder tokens.

    Parameters
    ----------
    enabled
        Master switch; ``False`` returns text unchanged.
    emails, phones, cards
        Redact e-mail addresses, phone numbers, card-like numbers.
    urls
        ``"tokens"`` (default) redacts URLs that carry a token or query; ``"all"`` every URL;
        ``False`` none.

    Examples
    --------
    >>> Redactor()("Mail jo@x.org or call +44 20 7946 0958")
    'Mail [EMAIL] or call [PHONE]'
    """

    enabled: bool = True
    emails: bool = True
    phones: bool = True
    cards: bool = True
    urls: str | bool = "tokens"

    def __post_init__(self) -> None:
        if self.urls not in ("tokens", "all", True, False):
            raise CxroiError(f"redact.urls must be 'tokens', 'all' or false, got {self.urls!r}")

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> Redactor:
        """Build from the ``[themes.redact]`` table of ``cxroi.toml`` (missing keys: defaults)."""
        section = dict(section or {})
        known = {"enabled", "emails", "phones", "cards", "urls"}
        unknown = set(section) - known
        if unknown:
            raise CxroiError(
                f"cxroi.toml [themes.redact]: unknown key(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**section)

    def _url(self, m: re.Match[str]) -> str:
        url = m.group(0)
        trail = ""
        while url and url[-1] in ".,;:!?)]":
            trail = url[-1] + trail
            url = url[:-1]
        if self.urls in ("all", True):
            return "[URL]" + trail
        rest = re.sub(r"^(?:https?://|ftp://)", "", url, flags=re.IGNORECASE)
        has_token = (
            "?" in rest
            or "#" in rest
            or "@" in rest.split("/", 1)[0]
            or any(_TOKEN_SEGMENT.fullmatch(seg) for seg in rest.split("/")[1:])
        )
        return ("[URL]" + trail) if has_token else m.group(0)

    def __call__(self, text: str | None) -> str | None:
        """Redact one text; ``None`` stays ``None``."""
        if text is None or not self.enabled:
            return text
        if not isinstance(text, str):
            raise CxroiError(f"redact expects text, got {type(text).__name__}")
        if self.urls:
            text = _URL.sub(self._url, text)
        if self.emails and ("@" in text or "(at)" in text or "[at]" in text):
            text = _EMAIL.sub("[EMAIL]", text)
        if self.cards:
            text = _CARD.sub("[CARD]", text)
        if self.phones:
            text = _PHONE.sub(lambda m: "[PHONE]" if _phone_like(m.group(0)) else m.group(0), text)
        return text

    def many(self, texts: Iterable[str | None]) -> list[str | None]:
        """Redact each text; missing values (``None``, NaN) become ``None``."""
        out: list[str | None] = []
        for t in texts:
            if t is None or (isinstance(t, float) and np.isnan(t)):
                out.append(None)
            else:
                out.append(self(t))
        return out


def redact(text: str | None, **options: Any) -> str | None:
    """Redact personal data in one text with the default (or given) :class:`Redactor` options.

    Parameters
    ----------
    text
        The text; ``None`` is returned unchanged.
    **options
        Any :class:`Redactor` field, e.g. ``phones=False``.

    Returns
    -------
    str or None
        The text with ``[EMAIL]``, ``[PHONE]``, ``[CARD]`` and ``[URL]`` placeholders.
    """
    return Redactor(**options)(text)
