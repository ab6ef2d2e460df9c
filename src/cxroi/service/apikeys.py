"""API keys for the admin API: shown once, stored hashed, compared in constant time.

A key reads ``cxr_<key id>_<secret>``: the id (8 characters) finds the stored row, the secret
(43 URL-safe characters, 256 bits from :mod:`secrets`) proves the holder. Only the SHA-256 of
the whole key is stored. A salted slow hash (argon2) protects *passwords*, which are guessable;
a 256-bit random key cannot be guessed, so one fast hash is the standard choice (GitHub, Stripe)
and keeps every admin request cheap. The comparison is :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import pandas as pd

from cxroi.errors import CxroiError
from cxroi.results import Result, Table
from cxroi.service.journal import Journal, utcnow

__all__ = ["ApiKey", "create_key", "keys_result", "revoke_key", "verify_key"]

PREFIX = "cxr"
_KEY = re.compile(r"^cxr_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{43})$")
_NAME = re.compile(r"^[\w .@-]{1,80}$")


@dataclass(frozen=True)
class ApiKey:
    """A stored key (never its secret)."""

    key_id: str
    name: str


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(journal: Journal, name: str) -> tuple[ApiKey, str]:
    """Make a key named ``name``; returns the stored key and the full key, which is not kept.

    Raises
    ------
    CxroiError
        The name is empty, too long, or holds characters other than letters, digits, space,
        ``.``, ``@``, ``-`` and ``_``.
    """
    if not _NAME.fullmatch(name or ""):
        raise CxroiError(f"api key name {name!r}: use 1-80 letters, digits, spaces or .@-_")
    key_id = "".join(
        secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
        for _ in range(8)
    )
    key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    with journal.transaction() as con:
        con.execute(
            "INSERT INTO api_keys (key_id, name, hash, created_at) VALUES (?, ?, ?, ?)",
            (key_id, name, _hash(key), utcnow().isoformat()),
        )
    return ApiKey(key_id, name), key


def verify_key(journal: Journal, presented: str | None) -> ApiKey | None:
    """The live key ``presented`` is, or ``None`` (unknown, malformed, wrong or revoked)."""
    m = _KEY.fullmatch(presented or "")
    if m is None:
        return None
    row = journal.reader.execute(
        "SELECT name, hash FROM api_keys WHERE key_id = ? AND revoked_at IS NULL", (m.group(1),)
    ).fetchone()
    expected = row[1] if row else _hash("absent")  # compare anyway: the same time either way
    ok = hmac.compare_digest(_hash(presented or ""), expected)
    return ApiKey(m.group(1), row[0]) if ok and row else None


def revoke_key(journal: Journal, key_id: str) -> ApiKey:
    """Revoke key ``key_id`` (from ``cxroi apikey list``); it stops working at once.

    Raises
    ------
    CxroiError
        No live key has that id.
    """
    with journal.transaction() as con:
        row = con.execute(
            "SELECT name FROM api_keys WHERE key_id = ? AND revoked_at IS NULL", (key_id,)
        ).fetchone()
        if row is None:
            raise CxroiError(f"no live api key {key_id!r}; cxroi apikey list shows them")
        con.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", (utcnow().isoformat(), key_id)
        )
    return ApiKey(key_id, row[0])


def keys_result(journal: Journal) -> Result:
    """Every key: id, name, when made, revoked (never a secret or a hash)."""
    rows = journal.reader.execute(
        "SELECT key_id, name, created_at, revoked_at FROM api_keys ORDER BY created_at"
    ).fetchall()
    frame = pd.DataFrame(rows, columns=["key_id", "name", "created_at", "revoked_at"])
    frame["state"] = frame["revoked_at"].map(lambda v: "live" if v is None else "revoked")
    return Result("apikeys", "API keys", [Table("keys", "API keys", frame)])
