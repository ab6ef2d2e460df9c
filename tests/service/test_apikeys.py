"""API keys: shown once, stored as a SHA-256 only, revoked at once."""

from __future__ import annotations

import hashlib

import pytest

from cxroi.errors import CxroiError
from cxroi.service.apikeys import create_key, keys_result, revoke_key, verify_key
from cxroi.service.journal import Journal


@pytest.fixture
def journal(tmp_path):
    return Journal(tmp_path)


def test_a_key_verifies_and_only_its_hash_is_stored(journal):
    key, secret = create_key(journal, "dashboard")
    assert secret.startswith(f"cxr_{key.key_id}_") and len(secret) == 4 + 8 + 1 + 43
    assert verify_key(journal, secret) == key
    raw = (
        journal.path.read_bytes() + journal.path.with_name(journal.path.name + "-wal").read_bytes()
    )
    assert secret.encode() not in raw and secret.split("_")[-1].encode() not in raw
    stored = journal.reader.execute("SELECT hash FROM api_keys").fetchone()[0]
    assert stored == hashlib.sha256(secret.encode()).hexdigest()


@pytest.mark.parametrize("bad", [None, "", "Bearer x", "cxr_AAAAAAAA_" + "x" * 43, "cxr_short"])
def test_wrong_or_malformed_keys_fail(journal, bad):
    create_key(journal, "k")
    assert verify_key(journal, bad) is None


def test_a_changed_secret_with_a_real_id_fails(journal):
    key, secret = create_key(journal, "k")
    assert verify_key(journal, secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None


def test_revoked_keys_stop_working_and_the_list_never_shows_secrets(journal):
    key, secret = create_key(journal, "ops team")
    revoke_key(journal, key.key_id)
    assert verify_key(journal, secret) is None
    with pytest.raises(CxroiError, match="no live api key"):
        revoke_key(journal, key.key_id)
    shown = keys_result(journal).to_json()
    assert secret not in shown and "hash" not in shown and '"revoked"' in shown


def test_key_names_are_checked(journal):
    with pytest.raises(CxroiError, match="api key name"):
        create_key(journal, "x\n")
