"""The pure helpers of ``benchmarks/bench_scale.py`` and ``benchmarks/_measure.py``."""

from __future__ import annotations

import math
import resource
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import _measure  # noqa: E402
import bench_scale  # noqa: E402


def test_growth_exponent_recovers_a_power_law():
    sizes = [5_000, 15_000, 50_000]
    assert _measure.growth_exponent(sizes, [2e-4 * n**1.3 for n in sizes]) == pytest.approx(1.3)
    assert _measure.growth_exponent(sizes, [7.0, 7.0, 7.0]) == pytest.approx(0.0)


def test_growth_exponent_is_least_squares_and_skips_missing():
    sizes = [1.0, math.e, math.e**2]
    # log values 0, 1, 3: slope of the least-squares line is 1.5
    assert _measure.growth_exponent(sizes, [1.0, math.e, math.e**3]) == pytest.approx(1.5)
    assert _measure.growth_exponent([10, 100, 1000], [1.0, None, 100.0]) == pytest.approx(1.0)
    assert _measure.growth_exponent([10, 100], [1.0, 0.0]) is None
    assert _measure.growth_exponent([10, 10], [1.0, 2.0]) is None
    assert _measure.growth_exponent([], []) is None


def test_read_loadavg_and_last_line():
    assert _measure.read_loadavg("1.25 0.80 0.40 2/123 4567\n") == (1.25, 0.8, 0.4)
    assert len(_measure.read_loadavg()) == 3
    assert _measure.last_line("a\nError: boom  \n\n") == "Error: boom"
    assert _measure.last_line("") == ""


def test_measure_reports_the_childs_own_peak(tmp_path):
    big = bytearray(300 * 2**20)  # the runner's peak must not become the child's
    for i in range(0, len(big), 4096):
        big[i] = 1
    del big
    rec = _measure.measure(
        [sys.executable, "-c", "import sys; print('x'); sys.exit(3)"],
        timeout_s=60, stdout=tmp_path / "o", stderr=tmp_path / "e",
    )  # fmt: skip
    assert rec["exit"] == 3 and rec["stdout_bytes"] == 2 and not rec["timed_out"]
    # forked, the child starts from the runner's current RSS, far below the runner's peak
    runner_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert rec["peak_kib"] < runner_peak - 200 * 1024
    assert rec["error"] == "no stderr"


def test_measure_kills_on_timeout(tmp_path):
    rec = _measure.measure(
        [sys.executable, "-c", "import time; time.sleep(30)"],
        timeout_s=0.5, stdout=tmp_path / "o", stderr=tmp_path / "e",
    )  # fmt: skip
    assert rec["timed_out"] and rec["exit"] == -9 and rec["wall_s"] < 10
    assert "timeout" in rec["error"]


def test_parse_sizes_and_jobs():
    assert bench_scale.parse_sizes("300000,100_000,1M,100k") == (100_000, 300_000, 1_000_000)
    with pytest.raises(ValueError):
        bench_scale.parse_sizes("0")
    assert bench_scale.parse_jobs(None) == bench_scale.JOBS
    names = [j.name for j in bench_scale.parse_jobs("clv,scorecard")]
    assert names == ["scorecard", "clv"]  # table order
    with pytest.raises(ValueError, match="unknown"):
        bench_scale.parse_jobs("scorecard,nope")


def test_verdict_and_cell():
    fast = {"wall_s": 12.0, "cpu_s": 20.0, "peak_kib": 2 * 2**20, "exit": 0}
    slow = {"wall_s": 75.0, "cpu_s": 90.0, "peak_kib": 9 * 2**20, "exit": 0}
    assert bench_scale.verdict(fast) == ("meets", [])
    assert bench_scale.verdict(fast, 10.0) == ("target missed: wall 12.0 s >= 10 s",
                                               ["wall 12.0 s >= 10 s"])  # fmt: skip
    text, missed = bench_scale.verdict(slow)
    assert text.startswith("target missed") and len(missed) == 2
    assert bench_scale.verdict({"exit": 1, "wall_s": 1.0, "peak_kib": 1})[0] == "no result"
    assert bench_scale.cell(fast) == "12.0 / 20.0 / 2.00"
    assert bench_scale.cell({"skipped": "why"}) == "skipped"
    assert bench_scale.cell({"timed_out": True, "exit": -9}) == "TIMEOUT"


def test_dates_and_commands(tmp_path):
    assert bench_scale.months_before(bench_scale.dt.date(2026, 1, 1), 6).isoformat() == (
        "2025-07-01"
    )
    job = next(j for j in bench_scale.JOBS if j.name == "roi-measure")
    assert bench_scale.job_command(job, tmp_path, {"initiative": None}) == "no initiative"
    cmd = bench_scale.job_command(job, tmp_path, {"initiative": "I001"})
    assert cmd[-5:] == ["I001", "--workspace", str(tmp_path), "--format", "csv"]
    assert bench_scale.extrapolate(10_000, 2.0, 1.0, 1_000_000) == pytest.approx(200.0)
    assert bench_scale.extrapolate(10_000, 2.0, None, 1_000_000) is None
