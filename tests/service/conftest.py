"""Fixtures of the service tests: a fresh PostgreSQL database on the server ``make test``
starts (``CXROI_TEST_PG``, a libpq URL of a database to connect to for ``CREATE DATABASE``)."""

from __future__ import annotations

import os
import secrets
from urllib.parse import urlsplit

import pytest

PG_ENV = "CXROI_TEST_PG"


def _admin():
    psycopg = pytest.importorskip("psycopg")
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"no PostgreSQL server for the tests ({PG_ENV} is set by `make test`)")
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=5), url
    except psycopg.Error as e:  # set but not reachable: a broken setup, not a skip
        pytest.fail(f"{PG_ENV} is set but the server does not answer: {e}")


@pytest.fixture
def pg_url():
    """The URL of a new, empty database, dropped afterwards."""
    con, url = _admin()
    name = f"cxroi_test_{secrets.token_hex(4)}"
    con.execute(f'CREATE DATABASE "{name}"')
    p = urlsplit(url)
    try:
        yield f"{p.scheme}://{p.netloc}/{name}" + (f"?{p.query}" if p.query else "")
    finally:
        con.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        con.close()
