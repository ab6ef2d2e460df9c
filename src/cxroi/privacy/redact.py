"""Replace personal data in free text by placeholders, before the text is stored or shown.

Placeholders name the kind: ``[EMAIL]``, ``[PHONE]``, ``[CARD]``, ``[IBAN]``,
``[NATIONAL_ID]``, ``[URL]``, ``[SECRET]`` (findings come from :mod:`cxroi.privacy.detect`).

Ingest redacts every free-text column (:data:`FREE_TEXT`, plus extra columns whose name says
they hold text) before anything is written; the raw text is kept only where the workspace opts
in (``[privacy] keep_raw = true``), in a ``COLUMN__raw`` column that exports never show.
Text analytics redact again with the workspace's options, so a switched-off kind stays off.

Options in ``cxroi.toml`` (the same table serves ingest and analysis)::

    [privacy]
    keep_raw = false
    phones = true         # false when comments never hold phone numbers
    urls = "tokens"       # "tokens" (default), "all" or false
    regions = ["GB", "DE", "FR", "ES", "IT", "NL", "US"]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

from cxroi.errors import CxroiError
from cxroi.privacy.detect import KINDS, PHONE_REGIONS, Span, find_pii

__all__ = ["FREE_TEXT", "RAW_SUFFIX", "Redactor", "is_free_text", "redact"]

FREE_TEXT: dict[str, tuple[str, ...]] = {
    "responses": ("comment",),
    "tickets": ("subject", "description", "body", "message", "notes"),
    "cases": ("notes", "outcome"),
    "events": ("notes", "message"),
}
"""Columns of each canonical table that hold free text."""

RAW_SUFFIX = "__raw"
"""Suffix of the column that keeps the raw text when a workspace opts in."""

_TEXT_NAME = re.compile(
    r"(?:^|_)(comment|comments|text|note|notes|feedback|review|message|body|description|"
    r"subject|reason|why|verbatim|remarks?)(?:$|_)",
    re.IGNORECASE,
)

PLACEHOLDER = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "card": "[CARD]",
    "iban": "[IBAN]",
    "national_id": "[NATIONAL_ID]",
    "url": "[URL]",
    "secret": "[SECRET]",
}


def is_free_text(table: str, column: str) -> bool:
    """Whether ``column`` of ``table`` holds free text to redact."""
    if column.endswith(RAW_SUFFIX):
        return False
    return column in FREE_TEXT.get(table, ()) or bool(_TEXT_NAME.search(column))


@dataclass(frozen=True)
class Redactor:
    """Replace personal data in text by placeholder tokens.

    Parameters
    ----------
    enabled
        Master switch; ``False`` returns text unchanged.
    emails, phones, cards, ibans, national_ids, secrets
        Redact that kind.
    urls
        ``"tokens"`` (default) redacts URLs that carry a token or credentials; ``"all"``
        every URL; ``False`` none.
    regions
        Regions whose national phone numbers are recognised (``+`` numbers always are).
    keep_raw
        At ingest: keep the raw text in a separate ``COLUMN__raw`` column.

    Examples
    --------
    >>> Redactor()("Mail jürgen@beispiel.de or call +44 20 7946 0958")
    'Mail [EMAIL] or call [PHONE]'
    """

    enabled: bool = True
    emails: bool = True
    phones: bool = True
    cards: bool = True
    ibans: bool = True
    national_ids: bool = True
    secrets: bool = True
    urls: str | bool = "tokens"
    regions: tuple[str, ...] = field(default=PHONE_REGIONS)
    keep_raw: bool = False

    def __post_init__(self) -> None:
        if self.urls not in ("tokens", "all", True, False):
            raise CxroiError(f"redact urls must be 'tokens', 'all' or false, got {self.urls!r}")
        object.__setattr__(self, "regions", tuple(str(r).upper() for r in self.regions))

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any] | None, *, where: str = "[privacy]"
    ) -> Redactor:
        """Build from a ``cxroi.toml`` table (missing keys: defaults); unknown keys are errors."""
        section = dict(section or {})
        known = {f.name for f in fields(cls)}
        unknown = set(section) - known
        if unknown:
            raise CxroiError(
                f"cxroi.toml {where}: unknown key(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(known))}"
            )
        for k, v in section.items():
            if k not in ("urls", "regions") and not isinstance(v, bool):
                raise CxroiError(f"cxroi.toml {where}: {k} must be true or false, got {v!r}")
        return cls(**section)

    @cached_property  # read for every text redacted; the options never change
    def kinds(self) -> tuple[str, ...]:
        on = {
            "email": self.emails, "phone": self.phones, "card": self.cards,
            "iban": self.ibans, "national_id": self.national_ids, "secret": self.secrets,
            "url": bool(self.urls),
        }  # fmt: skip
        return tuple(k for k in KINDS if on[k])

    def spans(self, text: str) -> list[Span]:
        """Where the personal data are in ``text`` (empty when disabled)."""
        if not self.enabled or not text:
            return []
        urls = "all" if self.urls in ("all", True) else "tokens"
        return find_pii(text, kinds=self.kinds, urls=urls, regions=self.regions)

    def __call__(self, text: str | None) -> str | None:
        """Redact one text; ``None`` stays ``None``."""
        if text is None or not self.enabled:
            return text
        if not isinstance(text, str):
            raise CxroiError(f"redact expects text, got {type(text).__name__}")
        out, last = [], 0
        for s in self.spans(text):
            out += [text[last : s.start], PLACEHOLDER[s.kind]]
            last = s.end
        out.append(text[last:])
        return "".join(out)

    def many(self, texts: Iterable[Any]) -> list[str | None]:
        """Redact each text; missing values (``None``, NaN) become ``None``."""
        out: list[str | None] = []
        for t in texts:
            if t is None or (isinstance(t, float) and t != t):
                out.append(None)
            else:
                out.append(self(str(t)))
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
        The text with ``[EMAIL]``, ``[PHONE]``, ``[CARD]``, ``[IBAN]``, ``[NATIONAL_ID]``,
        ``[URL]`` and ``[SECRET]`` placeholders.
    """
    return Redactor(**options)(text)
