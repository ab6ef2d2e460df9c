"""The same company in DuckDB, PostgreSQL and PySpark gives the same numbers (1e-9 relative).

Each analysis step runs on the three engines and the other two are compared with DuckDB;
where a recount is cheap, DuckDB's own numbers are checked against pandas on the same rows,
so the three cannot agree on a wrong answer. A query log (every result an engine hands
back to Python) shows that only per-customer or per-group summaries leave the engine.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from cxroi.journey.inventory import inventory, propose
from cxroi.journey.metrics import touchpoint_metrics
from cxroi.metrics.scorecard import scorecard
from cxroi.models.effects import OUTCOMES, perception_effects
from cxroi.models.ledger import customer_ledger
from cxroi.models.rfm import rfm_summary
from tests.engines.conftest import CALIBRATION_END, CUSTOMERS

pytestmark = [
    pytest.mark.engines,
    # pyspark leaves the socket of each Arrow result to the garbage collector
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
]

SERVERS = ["postgres", "pyspark"]
RTOL = 1e-9


def same(a: pd.DataFrame, b: pd.DataFrame, key: list[str] | None = None) -> None:
    """Equal frames: numbers to 1e-9 relative, everything else exactly."""
    if key:
        a = a.sort_values(key).reset_index(drop=True)
        b = b.sort_values(key).reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=RTOL, atol=0)


@contextmanager
def query_log(con) -> Iterator[list[tuple[str, int, list[str]]]]:
    """Record every result the backend hands back to Python: (SQL, rows, columns)."""
    log: list[tuple[str, int, list[str]]] = []
    execute, to_pyarrow = con.execute, con.to_pyarrow

    def sql(expr) -> str:
        try:
            return str(con.compile(expr))
        except Exception:  # noqa: BLE001 - the log is for reading only
            return repr(expr)

    def logged_execute(expr, *args, **kwargs):
        out = execute(expr, *args, **kwargs)
        n = len(out) if hasattr(out, "__len__") and not isinstance(out, str) else 1
        cols = list(getattr(out, "columns", []))
        log.append((sql(expr), n, cols))
        return out

    def logged_arrow(expr, *args, **kwargs):
        out = to_pyarrow(expr, *args, **kwargs)
        log.append((sql(expr), getattr(out, "num_rows", 1), list(getattr(out, "column_names", []))))
        return out

    con.execute, con.to_pyarrow = logged_execute, logged_arrow
    try:
        yield log
    finally:
        del con.execute, con.to_pyarrow


RAW_KEYS = {"transaction_id", "event_id", "ticket_id", "order_id"}


def assert_summaries_only(log, *, most: int) -> None:
    """No result is raw rows: none carries a transaction, event or ticket key, and none is
    longer than ``most`` (the customers, for a per-customer summary)."""
    assert log, "no query was logged"
    for sql, rows, cols in log:
        assert not RAW_KEYS & set(cols), f"raw rows came back: {cols}\n{sql[:300]}"
        assert rows <= most, f"{rows} rows came back (more than {most}):\n{sql[:300]}"


# -- the scorecard ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def duck_card(duck_ws):
    return scorecard(duck_ws.tables)


def test_scorecard_recounts_in_pandas(duck_card, company):
    """DuckDB's revenue and NPS counts per month against pandas on the same rows."""
    tx = company["transactions"].to_pandas()
    rev = tx.groupby(tx.ts.dt.strftime("%Y-%m")).amount.sum()
    got = duck_card[duck_card.metric == "revenue"].set_index("period")["value"]
    assert np.allclose(got.loc[rev.index], rev, rtol=RTOL)
    rs = company["responses"].to_pandas().dropna(subset=["nps"])
    per = rs.groupby(rs.ts.dt.strftime("%Y-%m")).nps
    want = 100 * (per.apply(lambda s: (s >= 9).mean()) - per.apply(lambda s: (s <= 6).mean()))
    got = duck_card[duck_card.metric == "nps"].set_index("period")["value"]
    assert np.allclose(got.loc[want.index], want, rtol=RTOL)


@pytest.mark.parametrize("engine", SERVERS)
def test_scorecard(engines, duck_card, engine):
    ws = engines(engine)
    with query_log(ws.con) as log:
        card = scorecard(ws.tables)
    same(card, duck_card)
    assert_summaries_only(log, most=len(duck_card))


# -- the CLV summary ----------------------------------------------------------------------------


def _rfm(ws) -> pd.DataFrame:
    return rfm_summary(ws.table("transactions"), calibration_end=CALIBRATION_END).execute()


@pytest.fixture(scope="module")
def duck_rfm(duck_ws):
    return _rfm(duck_ws)


def test_clv_summary_recounts_in_pandas(duck_rfm, company):
    tx = company["transactions"].to_pandas()
    tx = tx[(tx.amount >= 0) & (tx.ts < pd.Timestamp(CALIBRATION_END) + pd.Timedelta(days=1))]
    days = tx.assign(day=tx.ts.dt.normalize()).groupby("customer_id").day.nunique() - 1
    got = duck_rfm.set_index("customer_id")["frequency"]
    assert got.sum() > 0
    pd.testing.assert_series_equal(got.sort_index(), days.sort_index(), check_names=False)


@pytest.mark.parametrize("engine", SERVERS)
def test_clv_summary(engines, duck_rfm, engine):
    ws = engines(engine)
    with query_log(ws.con) as log:
        got = _rfm(ws)
    same(got, duck_rfm, key=["customer_id"])
    assert_summaries_only(log, most=CUSTOMERS)


# -- the customer ledger ------------------------------------------------------------------------


def _ledger(ws) -> pd.DataFrame:
    return customer_ledger(ws.tables).execute()


@pytest.fixture(scope="module")
def duck_ledger(duck_ws):
    return _ledger(duck_ws)


def test_ledger_recounts_in_pandas(duck_ledger, company):
    tx = company["transactions"].to_pandas()
    spend = tx.groupby("customer_id").amount.sum()
    got = duck_ledger.set_index("customer_id")
    assert np.allclose(got.loc[spend.index, "spend"], spend, rtol=RTOL)
    tk = company["tickets"].to_pandas()
    hours = (
        ((tk.first_response_at - tk.opened_at).dt.total_seconds() / 3600)
        .groupby(tk.customer_id)
        .median()
    )
    assert np.allclose(got.loc[hours.index, "first_response_hours"], hours, rtol=RTOL,
                       equal_nan=True)  # fmt: skip


@pytest.mark.parametrize("engine", SERVERS)
def test_ledger(engines, duck_ledger, engine):
    ws = engines(engine)
    with query_log(ws.con) as log:
        got = _ledger(ws)
    if engine == "pyspark":  # the company's customers table has an extra column, kept
        assert "city" in got.columns
        got = got[list(duck_ledger.columns)]
    same(got, duck_ledger, key=["customer_id"])
    assert_summaries_only(log, most=CUSTOMERS)


# -- adjusted perception effects ---------------------------------------------------------------


@pytest.fixture(scope="module")
def duck_effects(duck_ws):
    return perception_effects(duck_ws.tables, outcomes=tuple(OUTCOMES))


@pytest.mark.parametrize("engine", SERVERS)
def test_perception_effects(engines, duck_effects, engine):
    ws = engines(engine)
    with query_log(ws.con) as log:
        got = perception_effects(ws.tables, outcomes=tuple(OUTCOMES))
    same(got, duck_effects)
    # cells of a customer and NPS group, or hazard counts of a month and covariate pattern
    assert_summaries_only(log, most=3 * CUSTOMERS)


# -- journey touchpoint metrics -----------------------------------------------------------------


@pytest.fixture(scope="module")
def journey(duck_ws):
    return propose(inventory(duck_ws.tables))


@pytest.fixture(scope="module")
def duck_touchpoints(duck_ws, journey):
    return touchpoint_metrics(duck_ws.tables, journey)


def test_touchpoints_recount_in_pandas(duck_touchpoints, company):
    ev = company["events"].to_pandas()
    per = ev.groupby("touchpoint").size()
    got = duck_touchpoints[duck_touchpoints.metric == "events"].set_index("touchpoint")["value"]
    common = got.index.intersection(per.index)
    assert len(common) > 3
    assert (got.loc[common] == per.loc[common]).all()


@pytest.mark.parametrize("engine", SERVERS)
def test_touchpoint_metrics(engines, duck_touchpoints, journey, engine):
    ws = engines(engine)
    with query_log(ws.con) as log:
        got = touchpoint_metrics(ws.tables, journey)
    same(got, duck_touchpoints)
    assert_summaries_only(log, most=len(journey.touchpoints))


# -- theme impact -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def duck_themes(duck_ws):
    from cxroi.analyses.themes import themes

    return themes(duck_ws, n_jobs=1).tables[0].frame


@pytest.mark.parametrize("engine", SERVERS)
def test_theme_impact(engines, duck_ws, duck_themes, engine):
    """The same theme model (fitted once, on DuckDB's comments) over each engine's comments
    and ledger: the impact table is the same."""
    from cxroi.analyses.themes import themes
    from cxroi.text.theme_store import MODEL_FILE

    ws = engines(engine)
    (Path(ws.path) / MODEL_FILE).parent.mkdir(exist_ok=True)
    shutil.copy(Path(duck_ws.path) / MODEL_FILE, Path(ws.path) / MODEL_FILE)
    with query_log(ws.con) as log:
        got = themes(ws, n_jobs=1).tables[0].frame
    same(got, duck_themes)
    # comments come back (the text is analysed in Python), transactions and events never
    comments = int(duck_ws.table("responses").comment.count().execute())
    assert_summaries_only(log, most=max(comments, CUSTOMERS))


# -- NPS points (the outcome of the initiatives' difference-in-differences) ----------------------


def _nps_points(ws) -> pd.DataFrame:
    from cxroi.metrics.nps import nps_points_expr

    rs = ws.table("responses")
    m = rs.ts.truncate("M").cast("date").name("month")
    pts = nps_points_expr(rs.nps)
    out = (
        rs.group_by(m)
        .aggregate(points=pts.mean(), answered=pts.count())
        .order_by("month")
        .execute()
    )
    out["month"] = pd.to_datetime(out["month"])
    return out


def test_nps_points_recount_in_pandas(duck_ws, company):
    """A missing score stays missing: the mean over answers is the month's NPS."""
    got = _nps_points(duck_ws).set_index("month")
    rs = company["responses"].to_pandas()
    month = rs.ts.dt.to_period("M").dt.to_timestamp()
    pts = np.select([rs.nps >= 9, rs.nps >= 7, rs.nps.notna()], [100.0, 0.0, -100.0], np.nan)
    want = pd.Series(pts, index=rs.index).groupby(month).agg(["mean", "count"])
    want = want.loc[got.index]
    assert (got["answered"].to_numpy() == want["count"].to_numpy()).all()
    assert np.allclose(got["points"].to_numpy(), want["mean"].to_numpy(), rtol=RTOL)


@pytest.mark.parametrize("engine", SERVERS)
def test_nps_points(engines, duck_ws, engine):
    same(_nps_points(engines(engine)), _nps_points(duck_ws), key=["month"])
