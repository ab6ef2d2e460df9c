"""The collection service under load: answers per second, latency, nothing lost.

Issue 17's targets, measured with ``wrk`` (Debian's package) in its own process on loopback:

1. **Load**: ``cxroi serve --workers 2 --rate-limit 0`` on a workspace with 400,000 invited
   customers; ``wrk`` posts one answer per request, each with its own invitation link (a link
   answers once), NPS, a delivery rating and a comment from a mix of four (one with a phone
   number, one with an e-mail address and ``<script>``, one plain, one empty), for 60 s over
   24 connections (a second run with 48 shows the queue when clients outnumber what the two
   cores serve: the same throughput, twice the wait). Every answer goes the whole path: token
   check, validation, redaction, a group-committed durable write, the idempotency and replay
   check. Target: >= 3,000 accepted answers per second, p99 < 50 ms. After SIGTERM the store
   must hold exactly as many responses as there were 2xx answers.
2. **kill -9**: the same load against a fresh server; after 10 s the whole process group is
   killed with SIGKILL. After a restart, the store must hold every answer ``wrk`` saw
   acknowledged (and at most the in-flight ones more).
3. **The comparison**: the endpoint a team would write first (``naive_collect.py``: FastAPI,
   one SQLite commit per answer, none of the checks), same ``wrk`` settings.

Usage: ``python benchmarks/bench_service.py [--scale small|full]`` (small: 10 s runs).
Prints one ``name: value`` line per figure and writes ``benchmarks/.data/service.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
DATA = HERE / ".data" / "service"
LUA = HERE / "load" / "answers.lua"
PY = sys.executable
CONNECTIONS, THREADS, WORKERS = 24, 2, 2
SATURATED = 48
"""Connections of the extra run that shows the queue when clients outnumber what 2 cores serve."""


def sh(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as r:
            if r.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready")


def workspace(n: int) -> Path:
    """A fresh workspace with ``n`` customers invited to the relationship survey; returns the
    folder (links in ``links.csv``)."""
    ws = DATA / "ws"
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    cx = [PY, "-m", "cxroi.cli"]
    sh(*cx, "init", str(ws))
    sh(*cx, "survey", "add", "relationship", "--rating", "delivery", "-w", str(ws))
    (DATA / "customers.csv").write_text("customer_id\n" + "".join(f"C{i:07d}\n" for i in range(n)))
    sh(*cx, "ingest", "customers", str(DATA / "customers.csv"), "-w", str(ws))
    sh(
        *cx,
        "invite",
        "--survey",
        "relationship",
        "--customers",
        str(DATA / "customers.csv"),
        "--out",
        str(DATA / "links.csv"),
        "-w",
        str(ws),
    )
    return ws


def tokens(first: int, count: int) -> Path:
    lines = (DATA / "links.csv").read_text().splitlines()[1:]
    path = DATA / f"tokens-{first}.txt"
    path.write_text("".join(line.split(",")[1] + "\n" for line in lines[first : first + count]))
    return path


def serve(ws: Path, port: int) -> subprocess.Popen:
    log = open(DATA / f"serve-{port}.log", "w")  # noqa: SIM115 (the child's)
    return subprocess.Popen(
        [
            PY,
            "-m",
            "cxroi.cli",
            "serve",
            "-w",
            str(ws),
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
            "--rate-limit",
            "0",
            "--no-access-log",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wrk(
    port: int, seconds: int, token_file: Path, *, drain: bool = True, connections: int = CONNECTIONS
) -> dict:
    """``wrk`` with the answers script; with ``drain`` the last 2 s ask ``/healthz`` only, so
    no answer is in flight when it stops (the rate is then over the posting window)."""
    out = sh(
        "wrk",
        f"-t{THREADS}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}",
        "--",
        str(token_file),
        str(THREADS),
        *([str(seconds)] if drain else []),
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    got["posting_s"] = seconds - 2 if drain else got["duration_s"]
    return got


def stored(ws: Path) -> int:
    r = sh(
        PY,
        "-c",
        "import sys; from cxroi import Workspace; "
        "ws = Workspace.open(sys.argv[1], read_only=True); "
        "print(ws.table('responses').count().execute())",
        str(ws),
    )
    return int(r.stdout)


def run_load(ws: Path, seconds: int, first: int, n: int, connections: int = CONNECTIONS) -> dict:
    port = free_port()
    proc = serve(ws, port)
    wait_ready(f"http://127.0.0.1:{port}/healthz", proc)
    before, t0 = loadavg(), time.perf_counter()
    got = wrk(port, seconds, tokens(first, n), connections=connections)
    during = loadavg()
    proc.send_signal(signal.SIGTERM)
    proc.wait(120)
    got.update(
        rate=got["created"] / got["posting_s"],
        load_before=before,
        load_end=during,
        wall=time.perf_counter() - t0,
    )
    return got


def run_kill(ws: Path, seconds: int, first: int, n: int, after: float) -> dict:
    port = free_port()
    proc = serve(ws, port)
    wait_ready(f"http://127.0.0.1:{port}/healthz", proc)
    have = stored(ws)
    w = subprocess.Popen(
        [
            "wrk",
            f"-t{THREADS}",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--timeout",
            "2s",
            "-s",
            str(LUA),
            f"http://127.0.0.1:{port}",
            "--",
            str(tokens(first, n)),
            str(THREADS),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(after)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    out, _ = w.communicate(timeout=seconds + 30)
    got = json.loads(out.strip().splitlines()[-1])
    port = free_port()
    again = serve(ws, port)  # restarts, and moves what the journal holds
    wait_ready(f"http://127.0.0.1:{port}/healthz", again)
    again.send_signal(signal.SIGTERM)
    again.wait(120)
    got.update(stored_new=stored(ws) - have)
    return got


def run_naive(seconds: int, first: int, n: int) -> dict:
    port = free_port()
    db = DATA / "naive.sqlite"
    for f in DATA.glob("naive.sqlite*"):
        f.unlink()
    with contextlib.closing(sqlite3.connect(db)) as con:  # WAL is set once, before the workers
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE answers (token TEXT, nps INT, comment TEXT)")
    env = {**os.environ, "NAIVE_DB": str(db), "PYTHONPATH": str(HERE)}
    proc = subprocess.Popen(
        [
            PY,
            "-m",
            "uvicorn",
            "naive_collect:app",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        start_new_session=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/openapi.json", proc)
        got = wrk(port, seconds, tokens(first, n), drain=False)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    got.update(rate=got["created"] / got["posting_s"])
    return got


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=["small", "full"], default="full")
    scale = parser.parse_args().scale
    seconds = {"small": 10, "full": 60}[scale]
    if shutil.which("wrk") is None:
        raise SystemExit("bench_service needs wrk (make bench installs Debian's package)")
    per_load, per_kill = seconds * 5_000, 100_000  # more links than a run can use
    n = 2 * per_load + per_kill
    t0 = time.perf_counter()
    ws = workspace(n)
    print(f"workspace: {n:,} customers invited in {time.perf_counter() - t0:.1f} s")
    load = run_load(ws, seconds, 0, per_load)
    ok = stored(ws)
    print(
        f"load: {load['rate']:,.0f} answers/s accepted for {load['duration_s']:.0f} s, "
        f"p50 {load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms, max {load['max_ms']:.0f} ms,"
        f" {load['other']} non-2xx, {load['errors']} socket errors; load avg "
        f"{load['load_before']} before, {load['load_end']} at the end"
    )
    print(
        f"stored after SIGTERM: {ok:,} responses for {load['created']:,} 2xx answers "
        f"({'equal' if ok == load['created'] else 'DIFFERENT'})"
    )
    sat = run_load(ws, seconds, per_load, per_load, connections=SATURATED)
    print(
        f"load over {SATURATED} connections: {sat['rate']:,.0f} answers/s, p50 "
        f"{sat['p50_ms']:.1f} ms, p99 {sat['p99_ms']:.1f} ms, max {sat['max_ms']:.0f} ms; load "
        f"avg {sat['load_before']} before, {sat['load_end']} at the end"
    )
    kill = run_kill(ws, 20, 2 * per_load, per_kill, after=10)
    lost = max(kill["created"] - kill["stored_new"], 0)
    print(
        f"kill -9 after 10 s: {kill['created']:,} answers acknowledged, "
        f"{kill['stored_new']:,} stored after the restart; acknowledged and lost: {lost}"
    )
    naive = run_naive(seconds, 0, per_load)  # it checks no token: reusing them is fine
    print(
        f"naive endpoint (one commit per answer, no checks): {naive['rate']:,.0f} answers/s, "
        f"p99 {naive['p99_ms']:.1f} ms"
    )
    print(f"ratio: cxroi {load['rate'] / naive['rate']:.2f}x the naive endpoint's throughput")
    (HERE / ".data" / "service.json").write_text(
        json.dumps(
            {
                "load": load,
                "saturated": sat,
                "stored": ok,
                "kill": kill,
                "naive": naive,
                "scale": scale,
            },
            indent=1,
        )
    )
    good = load["rate"] >= 3000 and load["p99_ms"] < 50 and ok == load["created"] and lost == 0
    print(
        f"targets (>= 3,000/s, p99 < 50 ms, stored == 2xx, none lost): "
        f"{'hold' if good else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
