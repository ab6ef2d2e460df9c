"""``[service]`` and ``[cases]``: defaults, refused secrets, one-line errors that never show a
secret."""

from __future__ import annotations

import os
import stat

import pytest

from cxroi.errors import CxroiError
from cxroi.service.settings import DEV_SECRET, SECRET_ENV, load_service_settings
from cxroi.store import Workspace


@pytest.fixture
def folder(tmp_path):
    Workspace.init(tmp_path / "ws").close()
    return tmp_path / "ws"


def _set(folder, text: str) -> None:
    toml = folder / "cxroi.toml"
    body = toml.read_text()
    start = body.index("[service]")
    toml.write_text(body[:start] + text)


def test_init_writes_a_private_random_secret(folder, tmp_path):
    s = load_service_settings(folder)
    assert len(s.signing_key) >= 32 and s.signing_key != DEV_SECRET
    assert stat.S_IMODE(os.stat(folder / "cxroi.toml").st_mode) == 0o600
    Workspace.init(tmp_path / "other").close()
    assert load_service_settings(tmp_path / "other").signing_key != s.signing_key
    assert s.signing_key not in repr(s)


@pytest.mark.parametrize("secret", ['""', '"change-me"', '"short"'])
def test_a_missing_or_example_secret_is_refused_outside_dev(folder, secret):
    _set(folder, f"[service]\nsecret_key = {secret}\n")
    with pytest.raises(CxroiError, match=r"\[service\] secret_key .*--dev") as e:
        load_service_settings(folder).signing_key  # noqa: B018
    assert "change-me" not in str(e.value)
    assert load_service_settings(folder, dev=True).signing_key == DEV_SECRET


def test_the_environment_overrides_the_file(folder, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, "e" * 40)
    assert load_service_settings(folder).signing_key == "e" * 40


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[service]\nsecret_key = 5\n", "secret_key must be str, got (hidden)"),
        ("[service]\nrate_limt = 5\n", "unknown key(s) rate_limt"),
        ("[service]\nflush_interval = 0\n", "flush_interval must be positive"),
        ('[service]\nbase_url = "ftp://x"\n', "base_url must start with http"),
        ("[cases]\nholdout_share = 1.5\n", "holdout_share must be in [0, 1)"),
        ('[cases]\nopen_when = ["nps"]\n', "[cases] open_when"),
        ("[[cases.routes]]\nwhen = \"plan == 'x'\"\n", "give exactly `when` and `owner`"),
        ("[cases]\nwebhook_secret = 7\n", "webhook_secret must be str, got (hidden)"),
    ],
)
def test_bad_settings_are_one_line(folder, text, message):
    _set(folder, text)
    with pytest.raises(CxroiError) as e:
        load_service_settings(folder)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_routes_and_rules_are_read(folder):
    _set(
        folder,
        '[service]\nsecret_key = "' + "s" * 40 + '"\n[cases]\nopen_when = '
        '["nps <= 6", "csat <= 2"]\ndue_days = 2\n[[cases.routes]]\nwhen = "plan == '
        '\'premium\'"\nowner = "vip@example.com"\n',
    )
    c = load_service_settings(folder).cases
    assert c.open_when == ("nps <= 6", "csat <= 2") and c.due_days == 2
    assert [(r.when, r.owner) for r in c.routes] == [("plan == 'premium'", "vip@example.com")]
