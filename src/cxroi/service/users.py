"""Dashboard users, their roles and their sessions.

Roles, each allowed what the one before it is:

``viewer``
    reads every page and its JSON;
``analyst``
    also exports CSV and follows cases up (assign, close);
``admin``
    also manages users.

Passwords are hashed with Argon2id (``argon2-cffi``, its default parameters, salted per
password) and never stored or shown; a password must be 12 characters or more. A session is
a random id (256 bits) kept in the journal with its user, its CSRF token and its expiry; the
browser holds only the signed id. Logging out, removing the user or the expiry ends it.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cxroi.errors import CxroiError
from cxroi.results import Result, Table
from cxroi.service.journal import Journal, utcnow

__all__ = [
    "ROLES",
    "Session",
    "add_user",
    "allowed",
    "check_login",
    "end_session",
    "new_session",
    "remove_user",
    "session",
    "users_result",
]

ROLES = ("viewer", "analyst", "admin")
MIN_PASSWORD = 12
SESSION_SECONDS = 8 * 3600
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not a password, for timing")


@dataclass(frozen=True)
class Session:
    sid: str
    username: str
    role: str
    csrf: str
    expires_at: float


def allowed(role: str, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` may."""
    return ROLES.index(role) >= ROLES.index(needed)


def add_user(journal: Journal, username: str, role: str, password: str) -> None:
    """Add a user (or replace one's password and role).

    Raises
    ------
    CxroiError
        A bad name, an unknown role, or a password shorter than 12 characters.
    """
    if not _NAME.fullmatch(username or ""):
        raise CxroiError(f"user name {username!r}: 1-64 letters, digits or . _ @ -")
    if role not in ROLES:
        raise CxroiError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if len(password or "") < MIN_PASSWORD:
        raise CxroiError(f"the password must have at least {MIN_PASSWORD} characters")
    digest = _hasher.hash(password)
    with journal.transaction() as con:
        con.execute("DELETE FROM users WHERE username = ?", (username,))
        con.execute(
            "INSERT INTO users VALUES (?, ?, ?, ?)", (username, role, digest, utcnow().isoformat())
        )
        con.execute("DELETE FROM sessions WHERE username = ?", (username,))


def remove_user(journal: Journal, username: str) -> None:
    """Remove a user and end their sessions.

    Raises
    ------
    CxroiError
        No such user.
    """
    with journal.transaction() as con:
        n = con.execute("DELETE FROM users WHERE username = ?", (username,)).rowcount
        con.execute("DELETE FROM sessions WHERE username = ?", (username,))
    if not n:
        raise CxroiError(f"no user {username!r}; cxroi user list shows them")


def users_result(journal: Journal) -> Result:
    """Every user and role (never a hash)."""
    rows = journal.reader.execute(
        "SELECT username, role, created_at FROM users ORDER BY username"
    ).fetchall()
    frame = pd.DataFrame(rows, columns=["username", "role", "created_at"])
    return Result("users", "Dashboard users", [Table("users", "Users", frame, kind="data")])


def check_login(journal: Journal, username: str, password: str) -> str | None:
    """The user's role if the password is right, else ``None`` (the same work either way)."""
    row = journal.reader.execute(
        "SELECT role, hash FROM users WHERE username = ?", (username,)
    ).fetchone()
    digest = row[1] if row else _DUMMY
    ok: bool
    try:
        ok = _hasher.verify(digest, password or "")
    except (VerificationError, InvalidHashError):
        ok = False
    return row[0] if ok and row else None


def new_session(journal: Journal, username: str) -> Session:
    """Open a session for ``username`` (after :func:`check_login`)."""
    sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = time.time() + SESSION_SECONDS
    with journal.transaction() as con:
        con.execute("DELETE FROM sessions WHERE expires_at < ?", (time.time(),))
        con.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)", (sid, username, csrf, expires))
        role = con.execute("SELECT role FROM users WHERE username = ?", (username,)).fetchone()
    return Session(sid, username, role[0], csrf, expires)


def session(journal: Journal, sid: str | None) -> Session | None:
    """The live session ``sid`` with its user's current role, or ``None``."""
    if not sid:
        return None
    row = journal.reader.execute(
        "SELECT s.username, u.role, s.csrf, s.expires_at FROM sessions s JOIN users u "
        "ON u.username = s.username WHERE s.sid = ?",
        (sid,),
    ).fetchone()
    if row is None or row[3] < time.time():
        return None
    return Session(sid, row[0], row[1], row[2], row[3])


def end_session(journal: Journal, sid: str) -> None:
    with journal.transaction() as con:
        con.execute("DELETE FROM sessions WHERE sid = ?", (sid,))
