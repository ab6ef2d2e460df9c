"""Personal data never reach the store: redacted at ingest, raw text only by opt-in."""

from __future__ import annotations

import duckdb
import pandas as pd

from cxroi import Workspace
from cxroi.analyses import privacy_scan
from tests.utils.cli import rows as json_rows

COMMENTS = [
    "Please call me back on +44 20 7946 0958, order 4567890 is late",
    "Refund to IBAN DE89 3704 0044 0532 0130 00 please, mail jürgen@beispiel.de",
    "card:4111.1111.1111.1111 was charged twice",
    "All good, 10/10",
]


def _responses() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(len(COMMENTS))],
            "ts": [f"2025-01-0{i + 1} 10:00" for i in range(len(COMMENTS))],
            "nps": [3, 5, 2, 10],
            "comment": COMMENTS,
        }
    )


def _stored(path, sql: str) -> list:
    con = duckdb.connect(str(path / "cx.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_comments_are_redacted_before_they_are_stored(tmp_path):
    with Workspace.init(tmp_path / "w") as ws:
        r = ws.ingest("responses", _responses())
        assert r.redacted == 3 and "personal data redacted in 3 value(s)" in r.summary()
    stored = [c for (c,) in _stored(tmp_path / "w", "SELECT comment FROM responses ORDER BY 1")]
    assert stored == sorted(
        [
            "Please call me back on [PHONE], order 4567890 is late",
            "Refund to IBAN [IBAN] please, mail [EMAIL]",
            "card:[CARD] was charged twice",
            "All good, 10/10",
        ]
    )
    # nothing of the raw text is anywhere in the store file
    raw = (tmp_path / "w" / "cx.duckdb").read_bytes()
    for secret in (b"7946 0958", b"beispiel", b"0532 0130", b"1111.1111"):
        assert secret not in raw


def test_keep_raw_keeps_it_apart_and_nothing_shows_it(tmp_path):
    path = tmp_path / "w"
    Workspace.init(path).close()
    toml = path / "cxroi.toml"
    toml.write_text(toml.read_text() + "\n[privacy]\nkeep_raw = true\n")
    with Workspace.open(path) as ws:
        ws.ingest("responses", _responses())
        assert "comment__raw" not in ws.table("responses").columns
        assert "comment__raw" in ws.raw_table("responses").columns
        scan = privacy_scan(ws)
    assert scan.table("raw_columns").to_dict("records") == [
        {"table": "responses", "column": "comment__raw", "values": 4}
    ]
    found = scan.table("findings")
    assert set(found["column"]) == {"comment__raw"}  # the redacted column holds nothing
    assert dict(zip(found["kind"], found["values"], strict=True)) == {
        "card": 1, "email": 1, "iban": 1, "phone": 1,
    }  # fmt: skip
    raw = _stored(path, "SELECT comment__raw FROM responses WHERE response_id = 'r2'")
    assert raw == [(COMMENTS[2],)]


def test_privacy_scan_finds_what_an_old_workspace_holds(tmp_path):
    path = tmp_path / "w"
    Workspace.init(path).close()
    con = duckdb.connect(str(path / "cx.duckdb"))  # rows written before redaction existed
    con.execute(
        "INSERT INTO responses (response_id, ts, nps, comment) VALUES "
        "('a', TIMESTAMP '2025-01-01', 9, 'mail me at jo@example.org'), "
        "('b', TIMESTAMP '2025-01-02', 9, 'fine')"
    )
    con.close()
    rows = json_rows(["privacy", "scan", "-w", str(path)])
    assert rows == [
        {"table": "responses", "column": "comment", "kind": "email", "values": 1, "scanned": 2}
    ]
