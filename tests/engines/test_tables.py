"""Engine URLs and the company's own tables read in place (``[tables]`` in ``cxroi.toml``).

The mapping works the same on every engine, so most of it is tested on DuckDB (a schema ``cx``
inside the workspace's own store stands in for the company's warehouse); PostgreSQL and
PySpark get the CLI path end to end.
"""

from __future__ import annotations

import pandas as pd
import psycopg
import pytest
from typer.testing import CliRunner

from cxroi.cli import app
from cxroi.config import CONFIG_FILE
from cxroi.engines import parse_table_maps, redact_url, spark_settings
from cxroi.errors import WorkspaceError
from cxroi.store import Workspace

runner = CliRunner()

MAPPING = """
[tables.responses]
source = "crm.survey_responses"
[tables.responses.columns]
response_id = "id"
nps = "likelihood_to_recommend"
ts = "answered_at"
"""


def company_responses(con_sql) -> None:
    """The company's survey table: other names, an integer key, a decimal score."""
    con_sql("CREATE SCHEMA crm")
    con_sql(
        "CREATE TABLE crm.survey_responses (id INTEGER, customer_id VARCHAR, "
        "answered_at TIMESTAMP, likelihood_to_recommend DECIMAL(4, 0), channel VARCHAR, "
        "nps VARCHAR)"
    )
    con_sql(
        "INSERT INTO crm.survey_responses VALUES "
        "(1, 'C1', '2025-01-05 10:00:00', 10, 'web', 'ignored'), "
        "(2, 'C2', '2025-01-06 11:00:00', 3, 'app', NULL), "
        "(3, 'C1', '2025-02-01 09:30:00', 8, 'web', NULL)"
    )


@pytest.fixture
def mapped_ws(ws):
    company_responses(lambda q: ws.con.raw_sql(q))
    path = ws.path
    ws.close()
    with (path / CONFIG_FILE).open("a", encoding="utf-8") as f:
        f.write(MAPPING)
    return path


def test_mapped_table_reads_in_place(mapped_ws):
    with Workspace.open(mapped_ws, read_only=True) as ws:
        t = ws.table("responses")
        df = t.execute().sort_values("response_id")
        assert list(t.columns[:9]) == ["response_id", "ts", "customer_id", "survey",
                                       "touchpoint", "nps", "csat", "ces", "comment"]  # fmt: skip
        assert str(t.schema()["response_id"]) == "string"
        assert str(t.schema()["nps"]) == "int64"
        assert df["response_id"].tolist() == ["1", "2", "3"]
        assert df["nps"].tolist() == [10, 3, 8]  # the mapped column, not the company's nps
        assert df["channel"].tolist() == ["web", "app", "web"]  # extra columns are kept
        assert df["csat"].isna().all()  # absent optional columns are typed nulls
        assert ws.check_tables() == {"responses": []}
        # the company's table is read, never copied: the expression names it
        assert "survey_responses" in str(ws.con.compile(t))
    with Workspace.open(mapped_ws) as ws, pytest.raises(WorkspaceError, match="never writes"):
        ws.ingest("responses", pd.DataFrame({"response_id": ["9"]}))


def test_scorecard_on_a_mapped_table(mapped_ws):
    from cxroi.metrics.scorecard import scorecard

    with Workspace.open(mapped_ws, read_only=True) as ws:
        card = scorecard(ws.tables, metrics=["nps"])
    jan = card[(card.period == "2025-01") & (card.metric == "nps")].iloc[0]
    assert (jan["value"], jan["n"]) == (0.0, 2)  # one promoter, one detractor


def test_cli_tables_shows_the_source(mapped_ws):
    r = runner.invoke(app, ["tables", "-w", str(mapped_ws), "-f", "csv"])
    assert r.exit_code == 0, r.output
    rows = {line.split(",")[0]: line for line in r.stdout.splitlines()}
    assert rows["responses"] == "responses,3,response_id,crm.survey_responses,ok"
    assert rows["transactions"] == "transactions,0,transaction_id,cxroi,ok"


@pytest.mark.parametrize(
    ("mapping", "problem"),
    [
        ('responses = "crm.nowhere"', "responses: table crm.nowhere not found"),
        (
            '[tables.responses]\nsource = "crm.survey_responses"\n'
            '[tables.responses.columns]\nresponse_id = "id"\nts = "when"',
            "responses: column ts (mapped to when) is not in crm.survey_responses",
        ),
        (
            '[tables.responses]\nsource = "crm.survey_responses"\n'
            '[tables.responses.columns]\nresponse_id = "id"\nts = "answered_at"',
            "responses: column nps is string in crm.survey_responses; expected int64",
        ),
        (
            'responses = "crm.survey_responses"',
            "responses: required column response_id is not in crm.survey_responses",
        ),
    ],
    ids=["table", "column", "type", "required"],
)
def test_cli_tables_names_each_problem(ws, mapping, problem):
    company_responses(lambda q: ws.con.raw_sql(q))
    path = ws.path
    ws.close()
    with (path / CONFIG_FILE).open("a", encoding="utf-8") as f:
        f.write("\n[tables]\n" + mapping + "\n" if "[tables." not in mapping else mapping)
    r = runner.invoke(app, ["tables", "-w", str(path)])
    assert r.exit_code == 2
    errors = r.stderr.splitlines()
    assert any(line.startswith(f"error: {problem}") for line in errors), r.stderr
    assert all(line.startswith("error: ") for line in errors)
    assert "Traceback" not in r.output
    # reading it says the same in one line
    r = runner.invoke(app, ["scorecard", "-w", str(path)])
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert problem.split(" (")[0].split(";")[0] in r.stderr


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"surveys": "cx.s"}, "not a canonical table"),
        ({"responses": {"source": "cx.s", "cols": {}}}, r"unknown key\(s\) cols"),
        ({"responses": {"columns": {"nps": "x"}}}, "source must be a table name"),
        ({"responses": {"source": "s", "columns": {"nps": "x", "csat": "x"}}}, "more than once"),
    ],
)
def test_bad_tables_section(section, message):
    with pytest.raises(WorkspaceError, match=message):
        parse_table_maps(section)


def test_urls_are_shown_without_passwords():
    assert redact_url("postgres://me:pw@h:5/db") == "postgres://me:***@h:5/db"
    assert redact_url("postgres://me@h/db?password=pw&x=1") == "postgres://me@h/db?password=***&x=1"
    url = "postgresql:///cx?host=/var/run/postgresql"
    assert redact_url(url) == url
    assert spark_settings("pyspark:///data/wh?spark.master=local[2]") == (
        {"spark.master": "local[2]"}, "/data/wh")  # fmt: skip


def test_engine_url_errors_are_one_line(tmp_path):
    r = runner.invoke(app, ["init", str(tmp_path / "a"), "--engine", "nosuch://x"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1, r.output
    r = runner.invoke(app, ["init", str(tmp_path / "b"), "--engine", "pyspark://?master=x"])
    assert r.exit_code == 2 and "master is not a Spark setting" in r.stderr
    r = runner.invoke(app, ["init", str(tmp_path / "c"), "--engine", "snowflake://u:s3cr3t@a/db"])
    assert r.exit_code == 2
    assert "ibis-framework[snowflake]" in r.stderr and "s3cr3t" not in r.output
    assert not (tmp_path / "c" / CONFIG_FILE).exists()


# -- PostgreSQL ---------------------------------------------------------------------------------


@pytest.mark.engines
def test_postgres_wrong_password_is_one_clean_line(pg_admin_url, tmp_path):
    with psycopg.connect(pg_admin_url) as con:
        port = con.execute("SHOW port").fetchone()[0]
        user = con.execute("SELECT current_user").fetchone()[0]
    url = f"postgresql://{user}:Wr0ng-S3cret@127.0.0.1:{port}/postgres"
    r = runner.invoke(app, ["init", str(tmp_path / "ws"), "--engine", url])
    assert r.exit_code == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: cannot connect to engine")
    assert "Wr0ng-S3cret" not in r.output and f"{user}:***@127.0.0.1" in r.stderr
    assert "Traceback" not in r.output


@pytest.mark.engines
def test_postgres_workspace_from_the_cli(pg_db, tmp_path):
    ws = tmp_path / "ws"
    r = runner.invoke(app, ["init", str(ws), "--engine", pg_db])
    assert r.exit_code == 0, r.output
    with psycopg.connect(pg_db, autocommit=True) as con:
        tables = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
        assert {"customers", "transactions", "responses"} <= tables
        company_responses(con.execute)
    with (ws / CONFIG_FILE).open("a", encoding="utf-8") as f:
        f.write(MAPPING)
    r = runner.invoke(app, ["tables", "-w", str(ws), "-f", "csv"])
    assert r.exit_code == 0, r.output
    assert "responses,3,response_id,crm.survey_responses,ok" in r.stdout
    r = runner.invoke(app, ["scorecard", "-w", str(ws), "-f", "csv", "--metric", "nps"])
    assert r.exit_code == 0, r.output
    assert "2025-01,2025-01-01,nps,0.0,2," in r.stdout


# -- PySpark ------------------------------------------------------------------------------------


@pytest.mark.engines
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
def test_spark_workspace_from_the_cli(spark_url, tmp_path):
    """init on Spark (the test session's, reused) creates the canonical tables there."""
    ws = tmp_path / "ws"
    r = runner.invoke(app, ["init", str(ws), "--engine", spark_url])
    assert r.exit_code == 0, r.output
    assert "spark.master=local[2]" in r.stdout
    r = runner.invoke(app, ["tables", "-w", str(ws), "-f", "csv"])
    assert r.exit_code == 0, r.output
    assert "transactions,0,transaction_id" in r.stdout
