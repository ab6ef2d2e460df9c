"""Measuring one command in a fresh process: wall time, CPU seconds and peak RSS of the child.

Used by ``bench_scale.py``; the pure helpers (:func:`growth_exponent`, :func:`read_loadavg`,
:func:`last_line`) are tested in ``tests/test_bench_scale.py``.

Peak RSS is ``ru_maxrss`` of the child as :func:`os.wait4` reports it (KiB on Linux). Two
things would make it the parent's figure rather than the child's:

- ``subprocess`` starts children with ``vfork``/``posix_spawn`` where it can; the kernel then
  records the *parent's* peak as the child's starting ``maxrss`` at ``exec``. A
  ``preexec_fn`` makes ``subprocess`` use a real ``fork`` instead, after which the child
  starts from the parent's *current* RSS (a few tens of MiB for the small runner process).
- the runner itself must stay small: it builds data and workspaces in child processes and
  imports nothing heavy before the last job has finished.

The rusage of a reaped child includes its own reaped children (worker processes) and all
their threads, so CPU seconds are user + system time of the whole job.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["growth_exponent", "last_line", "measure", "read_loadavg", "self_rss_kib"]


def read_loadavg(text: str | None = None) -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages from ``/proc/loadavg`` (or from ``text``)."""
    if text is None:
        try:
            text = Path("/proc/loadavg").read_text()
        except OSError:
            return os.getloadavg()
    one, five, fifteen = text.split()[:3]
    return float(one), float(five), float(fifteen)


def self_rss_kib() -> int:
    """This process's current resident memory in KiB (what a forked child starts from)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def last_line(text: str) -> str:
    """The last non-blank line of ``text`` (stripped), or ``""``."""
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()
    return ""


def growth_exponent(sizes: Sequence[float], values: Sequence[float]) -> float | None:
    """Least-squares slope of ``log(value)`` against ``log(size)``: 1 is linear growth.

    Pairs with a missing or non-positive value are left out; ``None`` when fewer than two
    distinct sizes remain.
    """
    pts = [
        (math.log(s), math.log(v))
        for s, v in zip(sizes, values, strict=True)
        if s and s > 0 and v is not None and v > 0 and math.isfinite(v)
    ]
    if len({x for x, _ in pts}) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    sxy = sum((x - mx) * (y - my) for x, y in pts)
    return sxy / sxx


def _new_session() -> None:  # pragma: no cover - runs in the child
    os.setsid()


def measure(cmd: Sequence[str], *, timeout_s: float, stdout: Path, stderr: Path, env=None) -> dict:
    """Run ``cmd`` in a fresh process and measure it.

    Output goes to the files ``stdout`` and ``stderr``. The child leads its own process
    group, so on timeout the whole group (workers too) is killed.

    Returns a dict: ``wall_s``, ``cpu_s`` (user + sys of the child and its reaped children),
    ``user_s``, ``sys_s``, ``peak_kib`` (``ru_maxrss``), ``exit`` (negative: killed by that
    signal), ``timed_out``, ``load_before`` and ``load_after`` (1-minute load averages),
    ``runner_rss_kib`` (the runner's RSS at fork: the floor a child's peak starts from),
    ``stdout_bytes`` and, if it failed, ``error`` (the last stderr line).
    """
    load_before = read_loadavg()
    runner_rss = self_rss_kib()
    timed_out = threading.Event()
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        t0 = time.perf_counter()
        # preexec_fn forces fork (not vfork) so the child's maxrss is not the runner's peak
        p = subprocess.Popen(
            list(cmd), stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
            preexec_fn=_new_session,
        )  # fmt: skip

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
            timer.join()
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if timed_out.is_set():  # workers left in the group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
    load_after = read_loadavg()
    rec = {
        "wall_s": round(wall, 3),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 3),
        "user_s": round(ru.ru_utime, 3),
        "sys_s": round(ru.ru_stime, 3),
        "peak_kib": int(ru.ru_maxrss),
        "exit": p.returncode,
        "timed_out": timed_out.is_set(),
        "load_before": load_before[0],
        "load_after": load_after[0],
        "runner_rss_kib": runner_rss,
        "stdout_bytes": stdout.stat().st_size,
    }
    if timed_out.is_set():
        rec["error"] = f"killed after the {timeout_s:g} s timeout"
    elif p.returncode:
        rec["error"] = last_line(stderr.read_text(errors="replace")) or "no stderr"
    return rec
