"""Settings of the collection service and the closed loop, read once from ``cxroi.toml``.

Two sections, both optional::

    [service]
    secret_key = "…"            # signs survey links; 32+ characters, never the example value
    old_secret_keys = []        # still accepted when verifying (key rotation)
    base_url = "https://feedback.example.com"
    rate_limit = 600            # requests per minute per client IP; 0 turns it off
    max_body_bytes = 65536
    max_comment_chars = 5000
    flush_interval = 5.0        # seconds between moves of the intake journal into the store
    journal = "postgresql://cx@db/cx"   # several service processes: the journal in PostgreSQL
    invite_expires_days = 30
    recontact_days = 90         # nobody is invited twice within this many days
    reminder_days = 7           # a reminder goes once, this many days after the invitation

    [cases]
    open_when = ["csat <= 2"]   # any of these (target language) opens a case; default: detractors
    surveys = []                # only answers to these surveys (empty: every survey)
    due_days = 3
    holdout_share = 0.0         # detractors held back from follow-up at random
    default_owner = "cx-team@example.com"
    webhook_url = "https://hooks.example.com/cxroi"
    webhook_secret = "whsec_…"  # Standard Webhooks secret
    smtp_host = "smtp.example.com"   # or e-mail the owner (an owner with an @)
    smtp_port = 587
    smtp_from = "cxroi@example.com"
    smtp_user = ""
    smtp_password = ""
    smtp_starttls = true

    [[cases.routes]]            # first match wins; columns of the response or the customer
    when = "touchpoint == 'delivery'"
    owner = "logistics@example.com"

A missing, short or example ``secret_key`` is refused outside ``dev``: links signed with a
secret anyone can read would let anyone answer as anyone. Secrets are never part of a
``repr`` or a message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cxroi.config import CONFIG_FILE, load_settings
from cxroi.errors import CxroiError
from cxroi.metrics.nps import PASSIVE_MIN
from cxroi.models.initiative import parse_target

__all__ = [
    "DEV_SECRET",
    "SECRET_ENV",
    "CaseSettings",
    "Route",
    "ServiceSettings",
    "load_service_settings",
]

DEV_SECRET = "cxroi-dev-secret-not-for-production-use-0000"
"""The secret ``--dev`` signs with when none is set: public, so refused outside dev."""

SECRET_ENV = "CXROI_SECRET_KEY"
"""An environment variable that, when set, takes the place of ``[service] secret_key``."""

MIN_SECRET_CHARS = 32
_EXAMPLE_SECRETS = {
    "",
    "change-me",
    "changeme",
    "secret",
    "dev",
    "test",
    "please-change-me",
    DEV_SECRET,
}


@dataclass(frozen=True)
class Route:
    """Cases whose response or customer match ``when`` go to ``owner``."""

    when: str
    owner: str


@dataclass(frozen=True)
class CaseSettings:
    """The ``[cases]`` section: when a response opens a case, for whom, and how they hear."""

    open_when: tuple[str, ...] = (f"nps < {PASSIVE_MIN}",)  # every detractor
    surveys: tuple[str, ...] = ()
    due_days: float = 3.0
    holdout_share: float = 0.0
    default_owner: str | None = None
    routes: tuple[Route, ...] = ()
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_from: str | None = None
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = True

    @property
    def notifies(self) -> bool:
        """Whether any notification channel is set up."""
        return bool(self.webhook_url or self.smtp_host)


@dataclass(frozen=True)
class ServiceSettings:
    """The ``[service]`` section (see the module docstring) plus ``[cases]``."""

    secret_key: str | None = field(default=None, repr=False)
    old_secret_keys: tuple[str, ...] = field(default=(), repr=False)
    base_url: str = "http://127.0.0.1:8000"
    rate_limit: int = 600
    max_body_bytes: int = 65_536
    max_comment_chars: int = 5_000
    flush_interval: float = 5.0
    invite_expires_days: int = 30
    recontact_days: int = 90
    reminder_days: int = 7
    journal: str | None = field(default=None, repr=False)
    cases: CaseSettings = field(default_factory=CaseSettings)
    dev: bool = False

    @property
    def secret_keys(self) -> list[str]:
        """Keys for verifying, oldest first; the last one signs (itsdangerous' order)."""
        return [*self.old_secret_keys, self.signing_key]

    @property
    def signing_key(self) -> str:
        """The secret that signs links; refused when it is missing or an example outside dev."""
        key = self.secret_key
        if key is None or key.strip() in _EXAMPLE_SECRETS or len(key) < MIN_SECRET_CHARS:
            if self.dev:
                return key if key and len(key) >= MIN_SECRET_CHARS else DEV_SECRET
            what = "is not set" if not key else "is an example or shorter than 32 characters"
            raise CxroiError(
                f"{CONFIG_FILE} [service] secret_key {what}: set a long random value (for "
                "example `cxroi secret`) or the CXROI_SECRET_KEY environment variable, or "
                "run with --dev on a test workspace"
            )
        return key


_SECRET_KEYS = {"secret_key", "old_secret_keys", "webhook_secret", "smtp_password", "journal"}
_TYPES: dict[str, tuple[type, ...]] = {
    "secret_key": (str,),
    "old_secret_keys": (list,),
    "base_url": (str,),
    "rate_limit": (int,),
    "max_body_bytes": (int,),
    "max_comment_chars": (int,),
    "flush_interval": (int, float),
    "journal": (str,),
    "invite_expires_days": (int,),
    "recontact_days": (int,),
    "reminder_days": (int,),
    "open_when": (list, str),
    "surveys": (list,),
    "due_days": (int, float),
    "holdout_share": (int, float),
    "default_owner": (str,),
    "routes": (list,),
    "webhook_url": (str,),
    "webhook_secret": (str,),
    "smtp_host": (str,),
    "smtp_port": (int,),
    "smtp_from": (str,),
    "smtp_user": (str,),
    "smtp_password": (str,),
    "smtp_starttls": (bool,),
}


def _checked(section: dict[str, Any], cls: type, where: str) -> dict[str, Any]:
    known = {f.name for f in fields(cls)} - {"cases", "dev"}
    unknown = set(section) - known
    if unknown:
        raise CxroiError(
            f"{CONFIG_FILE} [{where}]: unknown key(s) {', '.join(sorted(unknown))}; known: "
            f"{', '.join(sorted(known))}"
        )
    out = {}
    for k, v in section.items():
        types = _TYPES[k]
        if isinstance(v, bool) and bool not in types or not isinstance(v, types):
            kinds = " or ".join(t.__name__ for t in types)
            shown = "(hidden)" if k in _SECRET_KEYS else repr(v)
            raise CxroiError(f"{CONFIG_FILE} [{where}] {k} must be {kinds}, got {shown}")
        out[k] = tuple(v) if isinstance(v, list) and k != "routes" else v
    return out


def _cases(section: dict[str, Any]) -> CaseSettings:
    raw_routes = section.pop("routes", [])
    c = _checked(section, CaseSettings, "cases")
    if isinstance(c.get("open_when"), str):
        c["open_when"] = (c["open_when"],)
    routes = []
    for i, r in enumerate(raw_routes):
        if not isinstance(r, dict) or set(r) != {"when", "owner"}:
            raise CxroiError(
                f"{CONFIG_FILE} [[cases.routes]] #{i + 1}: give exactly `when` and `owner`"
            )
        routes.append(Route(str(r["when"]), str(r["owner"])))
    cases = CaseSettings(**c, routes=tuple(routes))
    for where, text in [
        *(("open_when", w) for w in cases.open_when),
        *((f"routes #{i + 1}", r.when) for i, r in enumerate(routes)),
    ]:
        try:
            parse_target(text)
        except CxroiError as e:
            raise CxroiError(f"{CONFIG_FILE} [cases] {where}: {e}") from None
    if not 0 <= cases.holdout_share < 1:
        raise CxroiError(f"{CONFIG_FILE} [cases] holdout_share must be in [0, 1)")
    if cases.due_days <= 0:
        raise CxroiError(f"{CONFIG_FILE} [cases] due_days must be positive")
    return cases


def load_service_settings(folder: str | Path, *, dev: bool = False) -> ServiceSettings:
    """Read ``[service]`` and ``[cases]`` from the workspace's ``cxroi.toml``.

    ``CXROI_SECRET_KEY`` in the environment overrides ``secret_key``.

    Raises
    ------
    CxroiError
        Naming the section and key of a bad value (never showing a secret).
    """
    s = load_settings(Path(folder))
    section = s.section("service")
    cases = _cases(dict(s.section("cases")))
    values = _checked(section, ServiceSettings, "service")
    if os.environ.get(SECRET_ENV):
        values["secret_key"] = os.environ[SECRET_ENV]
    out = ServiceSettings(**values, cases=cases, dev=dev)
    for name in (
        "rate_limit",
        "max_body_bytes",
        "max_comment_chars",
        "invite_expires_days",
        "recontact_days",
        "reminder_days",
    ):
        if getattr(out, name) < 0:
            raise CxroiError(f"{CONFIG_FILE} [service] {name} must be >= 0")
    if out.flush_interval <= 0:
        raise CxroiError(f"{CONFIG_FILE} [service] flush_interval must be positive")
    if not out.base_url.startswith(("http://", "https://")):
        raise CxroiError(f"{CONFIG_FILE} [service] base_url must start with http:// or https://")
    return out
