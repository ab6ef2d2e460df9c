"""Survey links: HMAC-signed, expiring tokens that carry no personal data.

A token is ``itsdangerous``' URL-safe signed JSON (HMAC-SHA256 over the payload, keyed by the
workspace's ``[service] secret_key``). The payload holds only what the service needs to accept
an answer:

``s``
    the survey's name;
``k``
    ``"o"`` for a survey's open (anonymous) link, ``"i"`` for one customer's invitation;
``i``
    the invitation's random id (never the customer's id: the service finds the customer from
    the ``invitations`` table when it moves the answer into the store);
``e``
    the expiry, in seconds since the epoch (``null``: an open link that does not expire);
``v``
    the survey's link version (an open link is revoked by raising it).

The same invitation always signs to the same token, so a reminder carries the link the
customer already has and no token is stored anywhere. Verifying tries every key of
:attr:`~cxroi.service.settings.ServiceSettings.secret_keys`, so a secret can be rotated.

Examples
--------
>>> signer = LinkSigner(["x" * 32])
>>> tok = signer.invitation("relationship", "abc123", expires=2_000_000_000)
>>> signer.verify(tok, now=1_900_000_000).invitation_id
'abc123'
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, Signer, URLSafeSerializer
from itsdangerous.encoding import base64_encode

from cxroi.errors import CxroiError

__all__ = ["Link", "LinkSigner", "TokenError", "new_invitation_id"]

_SALT = "cxroi.survey-link.v1"
MAX_TOKEN_CHARS = 1024


class TokenError(CxroiError):
    """A link token that cannot be used: ``reason`` is ``invalid`` (forged, tampered or not a
    token), ``expired``, ``revoked`` or ``used``."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Link:
    """What a verified token says."""

    survey: str
    kind: str  # "open" or "invitation"
    invitation_id: str | None
    expires: int | None
    version: int

    @property
    def scope(self) -> str:
        """A short, non-reversible name of this link (for idempotency keys and logs)."""
        who = self.invitation_id or f"open:{self.version}"
        return hashlib.sha256(f"{self.survey}\x00{who}".encode()).hexdigest()[:32]


class _KeyedSigner(Signer):
    """itsdangerous' ``Signer`` with its derived keys remembered: the key derivation (an HMAC
    over the salt) depends only on the secret and the salt, so it need not run per token."""

    _derived: dict[tuple[bytes, bytes, object], bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        raw = self.secret_keys[-1] if secret_key is None else secret_key
        raw = raw.encode() if isinstance(raw, str) else raw
        k = (raw, self.salt, self.digest_method)
        if k not in self._derived:
            self._derived[k] = super().derive_key(raw)
        return self._derived[k]


class _PlainSerializer(URLSafeSerializer):
    """URL-safe signed JSON, never zlib-compressed: a link's payload stays readable by anyone
    who decodes it (it holds nothing personal) and costs no decompression to verify."""

    def dump_payload(self, obj: object) -> bytes:
        return base64_encode(self.serializer.dumps(obj, **self.serializer_kwargs).encode())


def new_invitation_id() -> str:
    """A random invitation id: 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


class LinkSigner:
    """Sign and verify survey link tokens.

    Parameters
    ----------
    secret_keys
        Verification keys, oldest first; the last one signs.
    """

    def __init__(self, secret_keys: list[str]):
        self._s = _PlainSerializer(
            secret_keys,
            salt=_SALT,
            signer=_KeyedSigner,
            signer_kwargs={"digest_method": hashlib.sha256},
        )

    def _dump(self, payload: dict) -> str:
        return str(self._s.dumps(payload))

    def open_link(self, survey: str, *, version: int = 1, expires: int | None = None) -> str:
        """The survey's anonymous link token."""
        return self._dump({"s": survey, "k": "o", "e": expires, "v": version})

    def invitation(self, survey: str, invitation_id: str, *, expires: int) -> str:
        """One customer's invitation token (the same invitation signs to the same token)."""
        return self._dump({"s": survey, "k": "i", "i": invitation_id, "e": int(expires), "v": 1})

    def verify(self, token: object, *, now: float) -> Link:
        """Check the signature and the expiry.

        Raises
        ------
        TokenError
            ``invalid`` for anything not signed by one of the keys (forged, tampered, cut, not
            a string), ``expired`` after its expiry.
        """
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
            raise TokenError("invalid", "the survey link token is not valid")
        try:
            p = self._s.loads(token)
        except (BadSignature, UnicodeError, ValueError):
            raise TokenError("invalid", "the survey link token is not valid") from None
        ok = (
            isinstance(p, dict)
            and isinstance(p.get("s"), str)
            and p.get("k") in ("o", "i")
            and (p.get("e") is None or isinstance(p.get("e"), int))
            and isinstance(p.get("v"), int)
            and (p["k"] == "o" or isinstance(p.get("i"), str))
        )
        if not ok:  # signed by us but not a link (another salt's payload cannot get here)
            raise TokenError("invalid", "the survey link token is not valid")
        if p["e"] is not None and now >= p["e"]:
            raise TokenError("expired", "this survey link has expired")
        kind = "open" if p["k"] == "o" else "invitation"
        return Link(p["s"], kind, p.get("i"), p["e"], p["v"])
