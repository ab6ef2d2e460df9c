from __future__ import annotations

import os
from pathlib import Path

import pytest

from cxroi.store import Workspace

FIXTURES = Path(__file__).parent / "fixtures"

# One BLAS thread per test process (unless the environment asks for more). The slowest parts
# of the suite (the DiD fits behind roi measure, roi compare and the demo) are many mid-sized
# least-squares solves. On an idle machine one thread solves them as fast as two; but OpenBLAS'
# threads spin while they wait for work, so whenever something else wants the two cores (the
# other pytest-xdist worker, DuckDB, the PostgreSQL server, Spark, the service processes) a
# roi measure took two to four times as long on two threads as on one. The answers agree to
# rounding: no test depends on the thread count. Set here for the libraries loaded later and for
# the processes the tests start; the session fixture below caps the libraries loaded already.
BLAS_THREADS = int(os.environ.setdefault("OPENBLAS_NUM_THREADS", "1"))


@pytest.fixture(scope="session", autouse=True)
def _blas_threads():
    """BLAS_THREADS for the whole session, numpy's and scipy's OpenBLAS alike."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        yield


@pytest.fixture
def ws(tmp_path: Path):
    """A fresh embedded-DuckDB workspace."""
    with Workspace.init(tmp_path / "ws") as w:
        yield w


@pytest.fixture(scope="session")
def theme_company():
    """The simulated company the theme and text tests share (generated once per run)."""
    from cxroi.simulate import generate

    return generate(customers=4_000, months=12, seed=5, start="2024-01-01")


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory) -> Path:
    """A small demo company's workspace (3,000 customers, 24 months, two initiatives, its
    relationship survey and proposed journey.yaml), shared by the report, dashboard and
    browser tests; its analyses are cached in the workspace after the first test that computes
    them."""
    from cxroi.analyses.journey import journey_init
    from cxroi.demo import run_demo

    path = tmp_path_factory.mktemp("demo") / "ws"
    run_demo(path, customers=3_000, months=24, seed=11, analyse=False)
    with Workspace.open(path) as ws:
        journey_init(ws)
        # two of the eight initiatives (two levels) keep ROI measurement to seconds
        ws.con.raw_sql("DELETE FROM initiatives WHERE initiative_id NOT IN ('I001', 'I003')")
    return path
