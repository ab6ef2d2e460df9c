"""The worker pool of the text passes: the same answers as one process, and its CPU counted.

The workers are forked from a fork server (:mod:`cxroi.text._parallel`). Its CPU time and
that of its workers must count in the command's own (``getrusage`` of a reaped child, as
``make bench`` measures), so the server is stopped and waited for when the command exits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from cxroi.text import _parallel
from cxroi.text.pipeline import analyse_comments
from cxroi.text.theme_model import ThemeModel

ROOT = Path(__file__).resolve().parents[2]


def burn(chunk):
    """Some CPU work, and this worker's pid and CPU seconds so far."""
    total = 0
    for i in range(3_000_000):
        total += i % 7
    return os.getpid(), time.process_time(), total + len(chunk)


def test_workers_give_what_one_process_gives(company, monkeypatch):
    texts = company.tables["responses"].column("comment").to_pylist()[:600]
    model = ThemeModel(random_state=0).fit([t for t in texts if t])
    one = analyse_comments(texts, model, n_jobs=1, chunk_size=100)
    monkeypatch.setattr(_parallel, "MIN_PARALLEL", 0)  # the pool even for a few texts
    two = analyse_comments(texts, model, n_jobs=2, chunk_size=100)
    np.testing.assert_array_equal(two.sentiment, one.sentiment)
    np.testing.assert_array_equal(two.themes.confidence, one.themes.confidence)
    assert np.isfinite(one.sentiment).sum() > 100  # texts were scored, not all missing


def test_the_workers_cpu_counts_in_the_commands_own():
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from cxroi.text import _parallel
        from tests.text.test_parallel import burn
        _parallel.MIN_PARALLEL = 0
        out = _parallel.map_chunks(burn, list(range(4)), n_jobs=2, chunk_size=2)
        workers = {{}}
        for pid, cpu, _ in out:
            workers[pid] = max(cpu, workers.get(pid, 0.0))
        t = os.times()
        print(len(out), sum(workers.values()), t.user + t.system)
    """)  # fmt: skip
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=ROOT)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    assert p.returncode == 0
    assert p.stdout is not None
    chunks, workers_cpu, own_cpu = p.stdout.read().split()
    p.stdout.close()
    assert int(chunks) == 2 and float(workers_cpu) > 0.1
    # the reaped child's CPU holds its own and its workers' (the fork server's on top)
    assert ru.ru_utime + ru.ru_stime >= float(own_cpu) + 0.9 * float(workers_cpu)


def test_the_workers_modules_load_without_the_store_and_the_package_names_still_resolve():
    # the fork server imports these for every worker: not the store or DuckDB
    script = (
        "import sys; from cxroi.text import _parallel; import importlib\n"
        "for m in _parallel.PRELOAD: importlib.import_module(m)\n"
        "print(sorted(m for m in ('cxroi.store', 'duckdb') if m in sys.modules))\n"
        "import cxroi; print(cxroi.Workspace.__name__, cxroi.Result.__name__, cxroi.__version__)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["[]", f"Workspace Result {_version()}"]


def _version() -> str:
    import cxroi

    return cxroi.__version__
