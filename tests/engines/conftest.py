"""Engines for the parity suite: one simulated company loaded into DuckDB, a real PostgreSQL
server and PySpark in local mode, each shared by the whole test session.

PostgreSQL is the server ``make test`` starts (``CXROI_TEST_PG``); each session gets a fresh
database, loaded through ``Workspace.ingest`` (the generic MERGE path). PySpark gets the
company's tables as Spark tables of a database ``cx``, with some columns named as a company
might name them, and reads them in place through ``[tables]`` in ``cxroi.toml``.

Without the server, Java or pyspark the tests skip and say why; under CI (``CI`` set) they
fail instead, so the suite can never pass by skipping there.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pytest

from cxroi.config import Settings
from cxroi.schema import TABLES
from cxroi.store import Workspace

PG_ENV = "CXROI_TEST_PG"
CUSTOMERS = 2_000
CALIBRATION_END = "2024-09-30"

# how the company names some columns in its own Spark tables ([tables.X.columns])
SPARK_RENAMES = {
    "responses": {"nps": "likelihood_to_recommend"},
    "transactions": {"transaction_id": "order_id", "amount": "net_amount"},
}


def unavailable(reason: str):
    """Skip with ``reason``; under CI, fail: the engines must run there."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the engine parity suite)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def company() -> dict[str, pa.Table]:
    """The simulated company: canonical columns of every non-empty table (plus the
    customers' ``city``, an extra attribute)."""
    from cxroi.simulate import generate

    c = generate(customers=CUSTOMERS, months=12, seed=3, start="2024-01-01")
    out = {}
    for name, t in c.tables.items():
        if t.num_rows:
            keep = [n for n in t.column_names if n in TABLES[name].names or n == "city"]
            out[name] = t.select(keep)
    return out


def _ingest_all(ws: Workspace, company: dict[str, pa.Table], *, extra: bool) -> None:
    for name, t in company.items():
        if not extra and "city" in t.column_names:
            t = t.drop_columns(["city"])
        ws.ingest(name, t)


@pytest.fixture(scope="session")
def duck_ws(tmp_path_factory, company):
    with Workspace.init(tmp_path_factory.mktemp("duck") / "ws") as ws:
        _ingest_all(ws, company, extra=False)
        yield ws


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    psycopg = pytest.importorskip("psycopg")
    url = os.environ.get(PG_ENV)
    if not url:
        unavailable(f"no PostgreSQL server for the tests ({PG_ENV} is set by `make test`)")
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as e:  # set but not reachable: a broken setup, not a skip
        pytest.fail(f"{PG_ENV} is set but the server does not answer: {e}")
    try:
        import ibis.backends.postgres  # noqa: F401
    except ImportError:
        unavailable("the Ibis postgres backend is not installed (pip install 'cxroi[postgres]')")
    return url


def new_pg_database(admin_url: str) -> tuple[str, object]:
    """A new database on the test server: its URL and a callable that drops it."""
    import psycopg

    name = f"cxroi_eng_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    p = urlsplit(admin_url)
    url = f"{p.scheme}://{p.netloc}/{name}" + (f"?{p.query}" if p.query else "")

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


@pytest.fixture
def pg_db(pg_admin_url):
    """The URL of a new, empty database, dropped afterwards."""
    url, drop = new_pg_database(pg_admin_url)
    try:
        yield url
    finally:
        drop()


@pytest.fixture(scope="session")
def pg_ws(tmp_path_factory, pg_admin_url, company):
    """A workspace on a fresh PostgreSQL database, the company loaded by ``ingest``."""
    url, drop = new_pg_database(pg_admin_url)
    try:
        path = tmp_path_factory.mktemp("pg") / "ws"
        with Workspace.init(path, settings=Settings(engine=url)) as ws:
            _ingest_all(ws, company, extra=False)
        with Workspace.open(path, read_only=True) as ws:
            yield ws
    finally:
        drop()


SPARK_CONF = (
    "spark.master=local[2]&spark.sql.shuffle.partitions=2&spark.ui.enabled=false"
    "&spark.log.level=ERROR&spark.ui.showConsoleProgress=false"
)


@pytest.fixture(scope="session")
def spark_url(tmp_path_factory) -> str:
    """The one Spark session of the test run (local[2]), started through cxroi's URL."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        unavailable("pyspark is not installed (pip install 'cxroi[spark]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        unavailable("no Java for PySpark (make test installs Debian's openjdk-17-jre-headless)")
    warehouse = tmp_path_factory.mktemp("spark") / "warehouse"
    url = f"pyspark://{warehouse}?{SPARK_CONF}"
    from cxroi.engines import connect

    con = connect(url)  # starts the session; later connections reuse it
    yield url
    con._session.stop()


def spark_company_tables(con, company: dict[str, pa.Table]) -> dict[str, object]:
    """Create the company's Spark tables ``cx.<name>`` (some columns renamed as the company
    names them); return the ``[tables]`` section that maps them."""
    spark = con._session
    spark.sql("CREATE DATABASE IF NOT EXISTS cx")
    section: dict[str, object] = {}
    for name, t in company.items():
        ren = SPARK_RENAMES.get(name, {})
        src = t.rename_columns([ren.get(n, n) for n in t.column_names])
        spark.createDataFrame(src).write.mode("overwrite").saveAsTable(f"cx.{name}")
        section[name] = {"source": f"cx.{name}", "columns": ren} if ren else f"cx.{name}"
    return section


def tables_toml(section: dict[str, object]) -> str:
    """``section`` written as the ``[tables]`` part of ``cxroi.toml`` (both forms)."""
    lines = ["", "[tables]"]
    lines += [f'{k} = "{v}"' for k, v in section.items() if isinstance(v, str)]
    for k, v in section.items():
        if isinstance(v, dict):
            lines += ["", f"[tables.{k}]", f'source = "{v["source"]}"', f"[tables.{k}.columns]"]
            lines += [f'{a} = "{b}"' for a, b in v["columns"].items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def spark_ws(tmp_path_factory, spark_url, company):
    """A workspace on Spark reading the company's own tables in place."""
    from cxroi.engines import connect

    section = spark_company_tables(connect(spark_url), company)
    path: Path = tmp_path_factory.mktemp("sparkws") / "ws"
    # mapped from the start: init creates only the tables the company does not have
    Workspace.init(path, settings=Settings(engine=spark_url, extra={"tables": section})).close()
    with (path / "cxroi.toml").open("a", encoding="utf-8") as f:
        f.write(tables_toml(section))
    with Workspace.open(path, read_only=True) as ws:
        yield ws


@pytest.fixture(scope="session")
def engines(request):
    """Workspace by engine name, started on first use."""
    cache: dict[str, Workspace] = {}

    def get(name: str) -> Workspace:
        if name not in cache:
            cache[name] = request.getfixturevalue({"duckdb": "duck_ws", "postgres": "pg_ws",
                                                   "pyspark": "spark_ws"}[name])  # fmt: skip
        return cache[name]

    return get
