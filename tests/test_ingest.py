"""Ingest: idempotent upsert, all-or-nothing, clear errors, --skip-bad, every format."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cxroi.errors import IngestError
from tests.utils.factories import TX_HEADER, transactions_rows, write_csv


def _count(ws, table="transactions") -> int:
    return int(ws.table(table).count().execute())


def test_same_file_twice_gives_same_rows(ws, tmp_path):
    path = write_csv(tmp_path / "tx.csv", TX_HEADER, transactions_rows(500))
    first = ws.ingest("transactions", path)
    total = float(ws.table("transactions").amount.sum().execute())
    second = ws.ingest("transactions", path)
    assert (first.inserted, first.updated) == (500, 0)
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 500)
    assert second.changed_columns == {}
    assert _count(ws) == 500
    # independent value: sum of i % 97 + 0.5 over i < 500
    assert total == pytest.approx(sum(i % 97 + 0.5 for i in range(500)))
    assert float(ws.table("transactions").amount.sum().execute()) == pytest.approx(total)


def test_changed_row_replaces_old_one(ws, tmp_path):
    ws.ingest("transactions", write_csv(tmp_path / "a.csv", TX_HEADER, transactions_rows(10)))
    changed = [["T3", "C3", "2024-05-05 10:00:00", 999.0], ["T99", "C1", "2024-05-05", 1.0]]
    r = ws.ingest("transactions", write_csv(tmp_path / "b.csv", TX_HEADER, changed))
    assert (r.inserted, r.updated) == (1, 1)
    # T3 had amount 3 % 97 + 0.5 and ts 2024-04-04 (transactions_rows): both changed
    assert r.changed_columns == {"ts": 1, "amount": 1}
    t = ws.table("transactions")
    assert _count(ws) == 11
    assert t.filter(t.transaction_id == "T3").amount.execute().tolist() == [999.0]


def _customers(ws) -> dict:
    f = ws.table("customers").order_by("customer_id").to_pandas()
    return f.set_index("customer_id").to_dict("index")


def test_a_file_with_fewer_columns_keeps_the_columns_it_lacks(ws, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["customer_id", "plan", "region"],
                  [["c1", "basic", "north"], ["c2", "premium", "south"]])  # fmt: skip
    ws.ingest("customers", a)
    b = write_csv(
        tmp_path / "b.csv", ["customer_id", "plan"], [["c1", "standard"], ["c2", "premium"]]
    )
    r = ws.ingest("customers", b)
    assert (r.inserted, r.updated, r.unchanged) == (0, 1, 1)
    assert r.changed_columns == {"plan": 1} and r.kept_columns == ["region"]
    assert "region" in r.kept_columns
    rows = _customers(ws)
    assert (rows["c1"]["plan"], rows["c1"]["region"]) == ("standard", "north")
    assert (rows["c2"]["plan"], rows["c2"]["region"]) == ("premium", "south")
    text = r.summary()
    assert text.splitlines()[0] == "customers: 2 rows read, 0 new, 1 updated, 1 unchanged"
    assert "updated columns: plan (1 row)" in text and "kept as stored:" in text


def test_a_later_export_without_ratings_keeps_them(ws, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["response_id", "ts", "nps", "rating_app"],
                  [["r1", "2024-01-01 10:00", 9, 4]])  # fmt: skip
    b = write_csv(tmp_path / "b.csv", ["response_id", "ts", "nps"], [["r1", "2024-01-01 10:00", 7]])
    ws.ingest("responses", a)
    ws.ingest("responses", b)
    row = ws.table("responses").to_pandas().iloc[0]
    assert (row["nps"], row["rating_app"]) == (7, 4.0)


def test_replace_rows_replaces_whole_rows_and_says_what_it_emptied(ws, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["customer_id", "plan", "region"],
                  [["c1", "basic", "north"], ["c2", "premium", "south"]])  # fmt: skip
    ws.ingest("customers", a)
    b = write_csv(tmp_path / "b.csv", ["customer_id", "plan"], [["c1", "standard"]])
    r = ws.ingest("customers", b, replace_rows=True)
    assert (r.inserted, r.updated) == (0, 1)
    assert "region" in r.emptied_columns
    rows = _customers(ws)
    assert rows["c1"]["plan"] == "standard" and rows["c1"]["region"] is None
    assert rows["c2"]["region"] == "south"  # a key the file does not carry is untouched
    assert "1 replaced whole" in r.summary() and "emptied (not in the file): " in r.summary()


def test_one_bad_row_among_many_refused_with_its_line_and_table_unchanged(ws, tmp_path):
    ws.ingest("transactions", write_csv(tmp_path / "before.csv", TX_HEADER, transactions_rows(5)))
    rows = transactions_rows(1000, start=100)
    rows[536][3] = "12,50"  # data row 537 is file line 538 (line 1 is the header)
    path = write_csv(tmp_path / "tx.csv", TX_HEADER, rows)
    with pytest.raises(IngestError) as err:
        ws.ingest("transactions", path)
    msg = str(err.value)
    assert "tx.csv" in msg and "line 538" in msg and "amount '12,50' is not a number" in msg
    assert "1 bad row of 1000" in msg and err.value.n_bad == 1
    assert _count(ws) == 5


def test_first_twenty_bad_rows_shown_and_total_counted(ws, tmp_path):
    rows = transactions_rows(100)
    for r in rows[:30]:
        r[2] = "not a date"
    with pytest.raises(IngestError) as err:
        ws.ingest("transactions", write_csv(tmp_path / "tx.csv", TX_HEADER, rows))
    assert err.value.n_bad == 30
    assert [p["line"] for p in err.value.problems] == list(range(2, 22))
    assert "… and 10 more" in str(err.value)


def test_skip_bad_lands_the_rest_and_writes_rejected_file(ws, tmp_path):
    rows = transactions_rows(50)
    rows[9][3] = "abc"
    rows[19][0] = ""  # missing key
    path = write_csv(tmp_path / "tx.csv", TX_HEADER, rows)
    r = ws.ingest("transactions", path, skip_bad=True)
    assert (r.rows, r.inserted, r.rejected) == (50, 48, 2)
    assert _count(ws) == 48
    rejected = pd.read_csv(r.rejected_path)
    assert r.rejected_path == tmp_path / "tx.csv.rejected.csv"
    assert rejected["line"].tolist() == [11, 21]
    assert "amount 'abc' is not a number" in rejected["reason"][0]
    assert "transaction_id null is missing (required)" in rejected["reason"][1]


RESPONSES = ["response_id", "ts", "nps", "csat", "ces"]


@pytest.mark.parametrize(
    ("table", "header", "row", "expected"),
    [
        ("responses", RESPONSES, ["R1", "2024-01-01", "11", "", ""], "nps '11' is outside 0–10"),
        ("responses", RESPONSES, ["R1", "2024-01-01", "", "0", ""], "csat '0' is outside 1–5"),
        ("responses", RESPONSES, ["R1", "2024-01-01", "", "", "8"], "ces '8' is outside 1–7"),
        ("responses", RESPONSES, ["R1", "2024-01-01", "9.5", "", ""], "is not a whole number"),
        ("responses", RESPONSES, ["R1", "2024-13-45", "9", "", ""], "ts '2024-13-45' is not a"),
        ("responses", RESPONSES, ["R1", "2024-01-01", "", "", ""], "has no score"),
        ("transactions", TX_HEADER, ["", "C1", "2024-01-01", "5"], "transaction_id null is miss"),
        ("transactions", TX_HEADER, ["T1", "C1", "2024-01-01", "inf"], "not a finite number"),
        (
            "initiatives",
            ["initiative_id", "name", "level", "start_date", "cost"],
            ["I1", "Chat", "magic", "2024-01-01", "10"],
            "level 'magic' is not one of efficiency, excellence",
        ),
        (
            "tickets",
            ["ticket_id", "customer_id", "opened_at", "resolved_at"],
            ["K1", "C1", "2024-01-02 10:00", "2024-01-01 10:00"],
            "resolved_at '2024-01-01 10:00' is before opened_at",
        ),
        (
            "contracts",
            ["contract_id", "customer_id", "start_date", "value"],
            ["K1", "C1", "2024-01-02", "-5"],
            "value '-5' is below the minimum 0",
        ),
    ],
)
def test_bad_value_named_with_line_column_value_reason(ws, tmp_path, table, header, row, expected):
    path = write_csv(tmp_path / "in.csv", header, [row])
    with pytest.raises(IngestError, match="in.csv: 1 bad row of 1") as err:
        ws.ingest(table, path)
    assert f"line 2: {expected}" in str(err.value) or expected in str(err.value)
    assert "line 2" in str(err.value)
    assert _count(ws, table) == 0


def test_duplicate_key_in_one_file_names_both_lines(ws, tmp_path):
    rows = transactions_rows(5) + [["T2", "C9", "2024-02-02", 3.0]]
    with pytest.raises(
        IngestError, match=r"line 7: transaction_id 'T2' is a duplicate key \(first on line 4\)"
    ):
        ws.ingest("transactions", write_csv(tmp_path / "d.csv", TX_HEADER, rows))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the file is empty"),
        (b"transaction_id,customer_id,ts,amount\n", "has a header but no rows"),
        (
            b"transaction_id,ts,amount\nT1,2024-01-01,5\n",
            "missing required column(s) for transactions: customer_id",
        ),
        (
            b"transaction_id,customer_id,ts,amount\nT1,C\xe9,2024-01-01,5\n",
            "line 2: not valid UTF-8 (byte 0xe9",
        ),
    ],
)
def test_bad_files_get_clear_errors(ws, tmp_path, content, expected):
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    with pytest.raises(IngestError) as err:
        ws.ingest("transactions", path)
    assert expected in str(err.value)
    assert _count(ws) == 0


def test_wrong_encoding_loads_when_encoding_given(ws, tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"customer_id,region\nC1,S\xe3o Paulo\n")
    ws.ingest("customers", path, encoding="latin-1")
    assert ws.table("customers").region.execute().tolist() == ["São Paulo"]


def test_mapping_renames_and_unknown_source_column_is_an_error(ws, tmp_path):
    path = write_csv(
        tmp_path / "m.csv", ["id", "cust", "when", "total"], [["T1", "C1", "2024-01-01", 5]]
    )
    mapping = {"id": "transaction_id", "cust": "customer_id", "when": "ts", "total": "amount"}
    assert ws.ingest("transactions", path, mapping=mapping).inserted == 1
    with pytest.raises(
        IngestError, match=r"unknown column\(s\) in mapping: nope; the input has: id"
    ):
        ws.ingest("transactions", path, mapping={"nope": "amount"})


def test_unknown_table_is_an_error(ws, tmp_path):
    with pytest.raises(Exception, match="unknown table 'sales'; the canonical tables are"):
        ws.ingest("sales", tmp_path / "x.csv")


def test_timestamps_are_stored_in_utc(tmp_path):
    from cxroi.config import Settings
    from cxroi.store import Workspace

    ws = Workspace.init(tmp_path / "ny", settings=Settings(timezone="America/New_York"))
    rows = [["T1", "C1", "2024-07-01 12:00:00", 1], ["T2", "C1", "2024-07-01T12:00:00Z", 1],
            ["T3", "C1", "2024-01-15T12:00:00+01:00", 1]]  # fmt: skip
    ws.ingest("transactions", write_csv(tmp_path / "t.csv", TX_HEADER, rows))
    got = ws.table("transactions").order_by("transaction_id").ts.execute().tolist()
    # New York is UTC-4 in July; explicit offsets keep their instant.
    assert got == [pd.Timestamp("2024-07-01 16:00"), pd.Timestamp("2024-07-01 12:00"),
                   pd.Timestamp("2024-01-15 11:00")]  # fmt: skip
    ws.close()


def test_extra_columns_are_kept_with_inferred_types(ws, tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        ["customer_id", "plan", "loyalty_points", "vip_since", "segment"],
        [["C1", "basic", "120", "2023-05-01", "a"], ["C2", "premium", "", "2022-01-09", "b"]],
    )
    ws.ingest("customers", path)
    schema = ws.table("customers").schema()
    assert schema["loyalty_points"].is_integer() and schema["vip_since"].is_date()
    assert schema["segment"].is_string()
    assert ws.table("customers").loyalty_points.sum().execute() == 120


def _frames():
    return pd.DataFrame({
        "transaction_id": ["T1", "T2", "T3"], "customer_id": ["C1", "C2", "C1"],
        "ts": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 11:00", "2024-01-03 12:00"]),
        "amount": [10.0, 20.5, 30.25],
    })  # fmt: skip


@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet", "jsonl", "xlsx", "frame", "arrow"])
def test_every_format_loads_the_same_rows(ws, tmp_path, fmt):
    frame = _frames()
    path = tmp_path / f"tx.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    elif fmt == "jsonl":
        path.write_text(
            "\n".join(json.dumps({**r, "ts": str(r["ts"])}) for r in frame.to_dict("records"))
        )
    elif fmt == "xlsx":
        frame.to_excel(path, index=False)
    source = {"frame": frame, "arrow": pa.Table.from_pandas(frame, preserve_index=False)}.get(
        fmt, path
    )
    r = ws.ingest("transactions", source)
    assert r.inserted == 3
    got = ws.table("transactions").order_by("transaction_id").execute()
    assert got["amount"].tolist() == [10.0, 20.5, 30.25]
    assert got["ts"].tolist() == frame["ts"].tolist()


def test_dates_accept_a_timestamp_and_null_end_date(ws, tmp_path):
    header = ["contract_id", "customer_id", "start_date", "value", "end_date"]
    rows = [
        ["K1", "C1", "2024-01-05 13:00:00", "10", ""],
        ["K2", "C2", "2024-02-01", "10", "2024-06-30"],
    ]
    ws.ingest("contracts", write_csv(tmp_path / "k.csv", header, rows))
    got = ws.table("contracts").order_by("contract_id").execute()
    assert [d.date() for d in got["start_date"]] == [dt.date(2024, 1, 5), dt.date(2024, 2, 1)]
    assert got["end_date"].isna().tolist() == [True, False]


def test_quoted_line_breaks_in_comments_are_read(ws, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(
        'response_id,ts,nps,comment\nR1,2024-01-01,9,"great\nreally great"\nR2,2024-01-02,3,meh\n'
    )
    ws.ingest("responses", path)
    got = ws.table("responses").order_by("response_id").execute()
    assert got["comment"].tolist() == ["great\nreally great", "meh"]
    assert got["nps"].tolist() == [9, 3]
