"""Personal data in free text: found with validators, replaced before it is stored.

- :mod:`~cxroi.privacy.detect`: where the personal data are (e-mail, phone, card, IBAN,
  national id, token URL, secret), each candidate confirmed by a checksum or a numbering plan;
- :mod:`~cxroi.privacy.redact`: :class:`Redactor` replaces them by placeholders (``[EMAIL]``,
  ``[PHONE]`` ...). Ingest runs it on every free-text column before anything is written.
"""

from __future__ import annotations

from cxroi.privacy.detect import KINDS, Span, find_pii
from cxroi.privacy.redact import FREE_TEXT, RAW_SUFFIX, Redactor, is_free_text, redact

__all__ = [
    "FREE_TEXT",
    "KINDS",
    "RAW_SUFFIX",
    "Redactor",
    "Span",
    "find_pii",
    "is_free_text",
    "redact",
]
