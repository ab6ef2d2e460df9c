"""Benchmark: every analysis as a user runs it, from 100k to a million customers (issue 15).

For each size the simulated company (24 months, seed 0) and its workspace are built once, or
reused, by ``bench_customers.py`` (``benchmarks/.data/customers-<n>/`` and ``ws/``), in a
child process so that this runner stays small. Each size's workspace is then copied once,
outside the timing, to a temporary folder beside it: some commands write into the workspace
(``themes``, ``archetypes``, ``segments`` and ``opportunities`` fit and save
``models/themes.json`` the first time; an initiative may have to be registered for
``roi measure``), and the copy keeps the shared workspace untouched and every run alike. The
copy starts without a theme model, so the ``themes`` job is a first run (it discovers the
themes and saves them) and the jobs after it load the saved model.

Each job is the real CLI in a fresh process, ``cxroi <command> --workspace WS --format csv``
with its output to a file, measured by ``_measure.measure``: wall time, CPU seconds of the
child (``os.wait4`` rusage, user + system, its threads and reaped workers included), the
child's own peak RSS (``ru_maxrss``; the child is forked, not vforked, so it does not inherit
the runner's peak), the exit code and the last stderr line of a failure, and the 1-minute
load average before and after. A job that runs longer than ``--timeout`` is killed with its
process group.

Printed: one table job x size (wall / CPU / peak), then per job the growth exponent (least
squares slope of log wall time against log customers over the sizes) and whether the
million-customer run meets the targets (< 60 s wall, < 8 GiB peak); "target missed" marks
each that does not. The exit code is non-zero only when a job crashed or timed out, never for
a missed target. Raw figures go to ``benchmarks/.data/scale.json`` and the plot (wall time
against customers, log-log, one line per job, the 60 s target) to ``benchmarks/scale.svg``;
a ``--scale small`` run writes ``benchmarks/.data/scale-small.json`` and ``.svg`` instead, so
a quick check never replaces the committed figure.

Usage: ``python benchmarks/bench_scale.py [--scale small|full] [--sizes 100000,300000,1000000]
[--jobs scorecard,drivers,...] [--timeout 900]``
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _measure import growth_exponent, measure, read_loadavg  # noqa: E402

SIZES = {"small": (10_000, 20_000, 50_000), "full": (100_000, 300_000, 1_000_000)}
TARGET_CUSTOMERS = 1_000_000
TARGET_WALL_S = 60.0
TARGET_PEAK_GIB = 8.0
JOB_TIMEOUT_S = 900.0
PREFERRED_INITIATIVE = "I001"
"""The simulator's support triage bot (efficiency level); the first listed one otherwise."""


@dataclass(frozen=True)
class Job:
    """One analysis as a user types it: ``cxroi ARGS --workspace WS --format csv``.

    ``args`` may name ``{calibration_end}``, ``{holdout_end}`` or ``{initiative}``, filled in
    per size (see :func:`context`). ``themes``: the command reads the workspace's theme model
    and fits and saves it if there is none. ``cold``: the workspace's cached analyses
    (``models/cache``, :mod:`cxroi.cache`) are removed first, outside the timing.
    ``prepare``: a command run first, outside the timing (``journey init --force``).
    ``target_s``: the wall-time target at a million customers.
    """

    name: str
    args: tuple[str, ...]
    themes: bool = False
    note: str = ""
    cold: bool = False
    prepare: tuple[str, ...] = ()
    target_s: float = 60.0


JOBS: tuple[Job, ...] = (
    Job("tables", ("tables",), note="baseline: starting the CLI and opening the workspace"),
    Job("scorecard", ("scorecard",)),
    Job(
        "drivers",
        ("drivers", "--survey", "relationship", "--dropna"),
        note="the rating_* drivers are asked in the relationship survey only (as the demo)",
    ),
    Job("value", ("value",)),
    Job("lever", ("lever", "--measure", "first_response_hours")),
    Job("churn", ("churn", "--by", "plan")),
    Job(
        "clv",
        ("clv", "--calibration-end", "{calibration_end}", "--holdout-end", "{holdout_end}"),
        note="calibration to 6 months before the data end, holdout the last 6 months",
    ),
    Job("themes", ("themes",), themes=True, note="first run: discovers and saves the themes"),
    Job("themes-saved", ("themes",), themes=True, note="second run: loads the saved themes"),
    Job("archetypes", ("archetypes",), themes=True),
    Job("at-risk", ("at-risk",)),
    Job("segments", ("segments",), themes=True),
    Job(
        "opportunities",
        ("opportunities",),
        themes=True,
        note="reuses the archetypes and perception effects the jobs before it cached",
    ),
    Job(
        "opportunities-cold",
        ("opportunities",),
        themes=True,
        cold=True,
        note="nothing cached: fits the archetypes and the perception effects itself",
    ),
    Job("roi-measure", ("roi", "measure", "--initiative", "{initiative}")),
    Job(
        "journey-touchpoints",
        ("journey", "touchpoints"),
        themes=True,
        prepare=("journey", "init", "--force"),
        target_s=10.0,
        note="journey.yaml proposed from the data first, untimed; first run: analyses the "
        "touchpoint comments (sentiment, themes)",
    ),
    Job(
        "journey-touchpoints-again",
        ("journey", "touchpoints"),
        themes=True,
        target_s=10.0,
        note="second run: the comment analysis of the same data is cached",
    ),
    Job(
        "journey-funnel",
        (
            "journey",
            "funnel",
            "--steps",
            "website,checkout,delivery",
            "--within",
            "30d",
            "--by",
            "plan",
        ),
        target_s=10.0,
    ),  # fmt: skip
    Job("journey-paths", ("journey", "paths"), target_s=10.0),
    Job(
        "journey-pain-points",
        ("journey", "pain-points"),
        note="driver weights of every surveyed touchpoint on overall NPS and churn, CSAT before "
        "and in the last 90 days, money at stake",
    ),
)
"""Run in this order (the theme model is fitted by the first job that needs it)."""

JOB_NAMES = tuple(j.name for j in JOBS)


# -- helpers ---------------------------------------------------------------------------------


def cxroi_cmd() -> list[str]:
    """The ``cxroi`` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("cxroi")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cxroi.cli"]


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"100000,300k,1M"`` -> ``(100000, 300000, 1000000)``, sorted, without repeats."""
    out = set()
    for part in text.replace("_", "").split(","):
        part = part.strip().lower()
        if not part:
            continue
        mult = {"k": 1_000, "m": 1_000_000}.get(part[-1], 1)
        value = float(part[:-1]) if mult > 1 else float(part)
        n = int(round(value * mult))
        if n <= 0:
            raise ValueError(f"size {part!r} is not a positive number of customers")
        out.add(n)
    if not out:
        raise ValueError("no sizes given")
    return tuple(sorted(out))


def parse_jobs(text: str | None) -> tuple[Job, ...]:
    """The jobs named in ``"scorecard,drivers"`` (every job for ``None``), in table order."""
    if not text:
        return JOBS
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [n for n in names if n not in JOB_NAMES]
    if unknown:
        raise ValueError(f"unknown job(s) {', '.join(unknown)}; known: {', '.join(JOB_NAMES)}")
    return tuple(j for j in JOBS if j.name in names)


def gib(kib: float) -> float:
    return kib / 2**20


def cell(rec: dict | None) -> str:
    """One table cell: ``wall s / CPU s / peak GiB``, or why there is no figure."""
    if rec is None:
        return "-"
    if "skipped" in rec:
        return "skipped"
    if rec.get("timed_out"):
        return "TIMEOUT"
    if rec.get("exit"):
        return f"FAILED (exit {rec['exit']})"
    return f"{rec['wall_s']:.1f} / {rec['cpu_s']:.1f} / {gib(rec['peak_kib']):.2f}"


def ok(rec: dict | None) -> bool:
    return bool(rec) and "wall_s" in rec and not rec.get("exit") and not rec.get("timed_out")


def verdict(rec: dict | None, target_s: float = TARGET_WALL_S) -> tuple[str, list[str]]:
    """The million-customer check of one job: text, and the targets it missed."""
    if not ok(rec):
        return "no result", []
    assert rec is not None
    missed = []
    if rec["wall_s"] >= target_s:
        missed.append(f"wall {rec['wall_s']:.1f} s >= {target_s:g} s")
    if gib(rec["peak_kib"]) >= TARGET_PEAK_GIB:
        missed.append(f"peak {gib(rec['peak_kib']):.2f} GiB >= {TARGET_PEAK_GIB:g} GiB")
    return ("target missed: " + "; ".join(missed)) if missed else "meets", missed


def extrapolate(n: int, wall: float, exponent: float | None, to: int) -> float | None:
    """Wall time at ``to`` customers by the power law through the run at ``n``."""
    return None if exponent is None else wall * (to / n) ** exponent


# -- per size -------------------------------------------------------------------------------


def prepare(n: int) -> tuple[Path, float]:
    """Build or reuse the data and workspace for ``n`` customers, in a child process."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from bench_customers import workspace; "
        "print(workspace(int(sys.argv[2])))"
    )
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-c", code, str(HERE), str(n)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if p.returncode:
        raise RuntimeError(f"building the workspace for {n:,} customers failed: {p.stderr}")
    return Path(p.stdout.strip().splitlines()[-1]), time.perf_counter() - t0


def copy_workspace(src: Path, parent: Path) -> Path:
    """A private copy of workspace ``src`` without a fitted theme model or writer note."""
    dst = parent / "ws"
    shutil.copytree(
        src, dst, ignore=shutil.ignore_patterns("models", ".cx.duckdb.writer", "ingested")
    )
    return dst


def data_end(data: Path) -> dt.date:
    """The simulated data's end (exclusive) from ``ground_truth.json``."""
    truth = json.loads((data / "ground_truth.json").read_text())
    return dt.date.fromisoformat(truth["generator"]["end"])


def months_before(day: dt.date, months: int) -> dt.date:
    m = day.year * 12 + day.month - 1 - months
    return dt.date(m // 12, m % 12 + 1, 1)


def find_initiative(ws: Path, end: dt.date) -> tuple[str | None, str]:
    """An initiative of the copy to measure, registering one if there is none.

    Returns the id (``None`` if impossible) and how it was found or why there is none.
    """
    cli = cxroi_cmd()
    p = subprocess.run(
        [*cli, "initiative", "list", "--workspace", str(ws), "--format", "csv"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if p.returncode:
        return None, f"cxroi initiative list failed: {p.stderr.strip()[-300:]}"
    ids = [r["initiative_id"] for r in csv.DictReader(io.StringIO(p.stdout))]
    if ids:
        chosen = PREFERRED_INITIATIVE if PREFERRED_INITIATIVE in ids else ids[0]
        return chosen, f"registered by the simulator ({len(ids)} initiatives)"
    start = months_before(end, 12)
    p = subprocess.run(
        [*cli, "initiative", "add", "BENCH1", "--name", "Benchmark initiative",
         "--level", "efficiency", "--start", start.isoformat(), "--cost", "100000",
         "--target", "plan == 'basic'", "--workspace", str(ws)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if p.returncode:
        return None, f"no initiative, and cxroi initiative add failed: {p.stderr.strip()[-300:]}"
    return "BENCH1", "registered in the copy by the benchmark"


def context(data: Path, ws: Path, jobs: tuple[Job, ...]) -> dict[str, str | None]:
    end = data_end(data)
    ctx: dict[str, str | None] = {
        "holdout_end": (end - dt.timedelta(days=1)).isoformat(),
        "calibration_end": (months_before(end, 6) - dt.timedelta(days=1)).isoformat(),
    }
    if any("{initiative}" in a for j in jobs for a in j.args):
        ctx["initiative"], ctx["initiative_note"] = find_initiative(ws, end)
    return ctx


def job_command(job: Job, ws: Path, ctx: dict[str, str | None]) -> list[str] | str:
    """The command line of ``job``, or why it cannot run."""
    args = []
    for a in job.args:
        if a.startswith("{") and a.endswith("}"):
            value = ctx.get(a[1:-1])
            if value is None:
                return ctx.get(f"{a[1:-1]}_note") or f"no {a[1:-1]}"
            a = value
        args.append(a)
    return [*cxroi_cmd(), *args, "--workspace", str(ws), "--format", "csv"]


def run_size(n: int, jobs: tuple[Job, ...], timeout_s: float) -> tuple[dict, dict]:
    """Every job at ``n`` customers: ``({job: record}, {preparation figures})``."""
    src, build_s = prepare(n)
    info: dict = {"workspace": str(src), "build_or_reuse_s": round(build_s, 1)}
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="scale-", dir=src.parent) as tmp:
        t0 = time.perf_counter()
        ws = copy_workspace(src, Path(tmp))
        info["copy_s"] = round(time.perf_counter() - t0, 1)
        ctx = context(src.parent, ws, jobs)
        info["context"] = ctx
        print(f"customers {n:,}: workspace ready in {build_s:.1f} s, copied in "
              f"{info['copy_s']:.1f} s ({src})", flush=True)  # fmt: skip
        model = ws / "models" / "themes.json"
        if any(j.themes for j in jobs) and not any(j.name == "themes" for j in jobs):
            # the theme model a later job would fit: fitted here, outside the timing
            measure([*cxroi_cmd(), "themes", "--workspace", str(ws), "--format", "csv"],
                    timeout_s=timeout_s, stdout=Path(tmp) / "warm.out",
                    stderr=Path(tmp) / "warm.err")  # fmt: skip
            info["theme_model"] = "fitted before the jobs, untimed"
        for job in jobs:
            cmd = job_command(job, ws, ctx)
            if isinstance(cmd, str):
                results[job.name] = {"skipped": cmd}
                print(f"  {job.name:<18} skipped: {cmd}", flush=True)
                continue
            if job.cold:
                shutil.rmtree(ws / "models" / "cache", ignore_errors=True)
            if job.prepare:
                measure([*cxroi_cmd(), *job.prepare, "--workspace", str(ws)],
                        timeout_s=timeout_s, stdout=Path(tmp) / "prepare.out",
                        stderr=Path(tmp) / "prepare.err")  # fmt: skip
            had_model = model.exists()
            rec = measure(cmd, timeout_s=timeout_s, stdout=Path(tmp) / f"{job.name}.out",
                          stderr=Path(tmp) / f"{job.name}.err")  # fmt: skip
            rec["command"] = ["cxroi", *cmd[len(cxroi_cmd()) :]]
            if job.themes and not had_model and model.exists():
                rec["fitted_theme_model"] = True
                info.setdefault("theme_model", f"fitted (timed) by {job.name}")
            results[job.name] = rec
            extra = f"  error: {rec['error']}" if "error" in rec else ""
            print(f"  {job.name:<18} {cell(rec):<26} load {rec['load_before']:.2f} -> "
                  f"{rec['load_after']:.2f}{extra}", flush=True)  # fmt: skip
    return results, info


# -- report ---------------------------------------------------------------------------------


def print_report(sizes: tuple[int, ...], jobs: tuple[Job, ...], res: dict) -> list[str]:
    """Print the job x size table and the growth and target lines; returns failed jobs."""
    w0 = max(len(j.name) for j in jobs) + 2
    cw = max(26, max((len(cell(res[j.name].get(n))) for j in jobs for n in sizes), default=0))
    print("\nwall s / CPU s / peak GiB, one fresh `cxroi ... --format csv` process per cell")
    print("job".ljust(w0) + "".join(f"{n:>{cw},}  " for n in sizes))
    for j in jobs:
        print(j.name.ljust(w0) + "".join(f"{cell(res[j.name].get(n)):>{cw}}  " for n in sizes))
    top = max(sizes)
    at_target = TARGET_CUSTOMERS in sizes
    print(f"\ngrowth exponent = slope of log wall vs log customers ({len(sizes)} sizes); "
          f"targets at {TARGET_CUSTOMERS:,}: < {TARGET_WALL_S:g} s wall, "
          f"< {TARGET_PEAK_GIB:g} GiB peak")  # fmt: skip
    failed, missed = [], []
    for j in jobs:
        by = res[j.name]
        good = [n for n in sizes if ok(by.get(n))]
        for n in sizes:
            r = by.get(n)
            if r and "skipped" not in r and not ok(r):
                failed.append(f"{j.name} at {n:,}: {r.get('error', 'failed')}")
        b = growth_exponent(good, [by[n]["wall_s"] for n in good])
        bc = growth_exponent(good, [by[n]["cpu_s"] for n in good])
        bm = growth_exponent(good, [by[n]["peak_kib"] for n in good])
        grow, growc, growm = ("n/a" if x is None else f"{x:.2f}" for x in (b, bc, bm))
        if at_target:
            text, miss = verdict(by.get(TARGET_CUSTOMERS), j.target_s)
            if miss:
                missed.append(j.name)
        elif good:
            last = good[-1]
            est = extrapolate(last, by[last]["wall_s"], b, TARGET_CUSTOMERS)
            text = f"no {TARGET_CUSTOMERS:,} run (largest {top:,})" + (
                "" if est is None else f"; extrapolated wall at {TARGET_CUSTOMERS:,}: {est:.0f} s"
            )
        else:
            text = "no result"
        print(f"  {j.name.ljust(w0)}exponent {grow:>5} (CPU {growc:>5}, peak {growm:>5})  {text}")
    if at_target:
        print("targets: " + (f"target missed by {', '.join(missed)}" if missed else "all met"))
    if failed:
        print("\nfailed:")
        for f in failed:
            print(f"  {f}")
    return failed


def plot(path: Path, sizes: tuple[int, ...], jobs: tuple[Job, ...], res: dict, title: str):
    """Wall time against customers, log-log, one line per job, the target line; SVG."""
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no plot")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "cxroi-bench-scale", "svg.fonttype": "none"})
    fig, ax = plt.subplots(figsize=(9, 5.5))
    markers = "osD^v<>phX*P"
    tab = plt.get_cmap("tab20").colors
    colors = tab[::2] + tab[1::2]  # the strong ten first
    for i, j in enumerate(jobs):
        pts = [(n, res[j.name][n]["wall_s"]) for n in sizes if ok(res[j.name].get(n))]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, marker=markers[i % len(markers)], color=colors[i % len(colors)],
                    label=j.name, linewidth=1.3, markersize=4)  # fmt: skip
    ax.axhline(TARGET_WALL_S, color="crimson", linestyle="--", linewidth=1.2,
               label=f"target {TARGET_WALL_S:g} s")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("customers (24 months of simulated data)")
    ax.set_ylabel("wall time, s (fresh CLI process)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", choices=tuple(SIZES), default="full")
    ap.add_argument("--sizes", help="comma-separated customer counts (default: by --scale)")
    ap.add_argument("--jobs", help=f"comma-separated, of: {','.join(JOB_NAMES)}")
    ap.add_argument("--timeout", type=float, default=JOB_TIMEOUT_S, help="seconds per job")
    a = ap.parse_args()
    try:
        sizes = parse_sizes(a.sizes) if a.sizes else SIZES[a.scale]
        jobs = parse_jobs(a.jobs)
    except ValueError as e:
        ap.error(str(e))
    suffix = "" if a.scale == "full" else f"-{a.scale}"
    json_path = HERE / ".data" / f"scale{suffix}.json"
    svg_path = HERE / "scale.svg" if a.scale == "full" else HERE / ".data" / "scale-small.svg"

    started = dt.datetime.now().astimezone()
    load0 = read_loadavg()
    print(f"sizes: {', '.join(f'{n:,}' for n in sizes)}; jobs: {', '.join(j.name for j in jobs)}")
    print(f"load average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; "
          f"{os.cpu_count()} cores; timeout {a.timeout:g} s per job", flush=True)  # fmt: skip
    res: dict[str, dict[int, dict]] = {j.name: {} for j in jobs}
    prep = {}
    for n in sizes:
        by_job, prep[n] = run_size(n, jobs, a.timeout)
        for name, rec in by_job.items():
            res[name][n] = rec
    load1 = read_loadavg()
    print(f"load average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    failed = print_report(sizes, jobs, res)

    exps = {}
    for j in jobs:
        good = [n for n in sizes if ok(res[j.name].get(n))]
        exps[j.name] = {
            "wall": growth_exponent(good, [res[j.name][n]["wall_s"] for n in good]),
            "cpu": growth_exponent(good, [res[j.name][n]["cpu_s"] for n in good]),
            "peak": growth_exponent(good, [res[j.name][n]["peak_kib"] for n in good]),
        }
    doc = {
        "benchmark": "bench_scale",
        "scale": a.scale,
        "started": started.isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},  # fmt: skip
        "load_average_before": load0,
        "load_average_after": load1,
        "timeout_s": a.timeout,
        "targets": {"customers": TARGET_CUSTOMERS, "wall_s": TARGET_WALL_S,
                    "peak_gib": TARGET_PEAK_GIB},  # fmt: skip
        "sizes": list(sizes),
        "units": {"wall_s": "s", "cpu_s": "s (user + sys, child and reaped workers)",
                  "peak_kib": "KiB (ru_maxrss of the child)", "load": "1-minute average"},
        "jobs": {j.name: {"args": list(j.args), "note": j.note} for j in jobs},
        "preparation": {str(n): v for n, v in prep.items()},
        "results": {name: {str(n): r for n, r in by.items()} for name, by in res.items()},
        "growth_exponents": exps,
        "failed": failed,
    }  # fmt: skip
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"\nraw figures: {json_path}")
    title = (f"cxroi analyses at scale, {started:%Y-%m-%d}, {os.cpu_count()} cores, "
             f"load {load0[0]:.1f}-{load1[0]:.1f}")  # fmt: skip
    if plot(svg_path, sizes, jobs, res, title):
        print(f"plot: {svg_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
