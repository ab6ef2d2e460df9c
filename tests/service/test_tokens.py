"""Survey link tokens: signed, expiring, rotatable, and carrying no personal data."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from cxroi.service.tokens import LinkSigner, TokenError

KEY, OLD = "k" * 40, "o" * 40


def _payload(token: str) -> dict:
    body = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_an_invitation_round_trips_and_carries_only_survey_id_expiry():
    s = LinkSigner([KEY])
    tok = s.invitation("relationship", "inv123", expires=2_000_000_000)
    link = s.verify(tok, now=1_900_000_000)
    assert (link.survey, link.kind, link.invitation_id, link.expires) == (
        "relationship",
        "invitation",
        "inv123",
        2_000_000_000,
    )
    # the payload is plain JSON of exactly these keys: no customer id, no e-mail, nothing else
    assert _payload(tok) == {
        "s": "relationship",
        "k": "i",
        "i": "inv123",
        "e": 2_000_000_000,
        "v": 1,
    }


def test_the_signature_is_hmac_sha256_of_the_payload_with_the_derived_key():
    """itsdangerous' scheme recomputed by hand: the key is sha256(salt + b"signer" + secret)
    (its default "django-concat" derivation), the signature HMAC-SHA256(key, payload)."""
    s = LinkSigner([KEY])
    tok = s.open_link("relationship")
    value, sig = tok.rsplit(".", 1)
    key = hashlib.sha256(b"cxroi.survey-link.v1" + b"signer" + KEY.encode()).digest()
    mac = hmac.new(key, value.encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64encode(mac).rstrip(b"=").decode() == sig


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
        lambda t: (
            base64.urlsafe_b64encode(
                json.dumps(
                    {"s": "relationship", "k": "i", "i": "other", "e": 2_000_000_000, "v": 1},
                    separators=(",", ":"),
                ).encode()
            )
            .rstrip(b"=")
            .decode()
            + "."
            + t.rsplit(".", 1)[1]
        ),
        lambda t: t.split(".")[0],  # no signature
        lambda t: "",
        lambda t: "x" * 2000,
        lambda t: "not a token at all",
    ],
)
def test_tampered_or_forged_tokens_are_invalid(tamper):
    s = LinkSigner([KEY])
    tok = s.invitation("relationship", "inv123", expires=2_000_000_000)
    with pytest.raises(TokenError) as e:
        s.verify(tamper(tok), now=1_900_000_000)
    assert e.value.reason == "invalid"


def test_a_token_signed_with_another_secret_is_forged():
    forged = LinkSigner(["f" * 40]).invitation("relationship", "inv123", expires=2_000_000_000)
    with pytest.raises(TokenError, match="not valid"):
        LinkSigner([KEY]).verify(forged, now=1)


def test_expiry_is_checked_to_the_second():
    s = LinkSigner([KEY])
    tok = s.invitation("relationship", "inv123", expires=1_000)
    assert s.verify(tok, now=999.9).invitation_id == "inv123"
    with pytest.raises(TokenError) as e:
        s.verify(tok, now=1_000)
    assert e.value.reason == "expired"


def test_rotation_old_links_still_verify_new_links_use_the_new_key():
    old = LinkSigner([OLD]).open_link("relationship")
    both = LinkSigner([OLD, KEY])
    assert both.verify(old, now=0).kind == "open"
    new = both.open_link("relationship")
    assert LinkSigner([KEY]).verify(new, now=0).survey == "relationship"
    with pytest.raises(TokenError):
        LinkSigner([OLD]).verify(new, now=0)


def test_the_same_invitation_signs_to_the_same_token():
    s = LinkSigner([KEY])
    assert s.invitation("a", "i1", expires=5) == s.invitation("a", "i1", expires=5)
    assert s.invitation("a", "i1", expires=5) != s.invitation("a", "i2", expires=5)
