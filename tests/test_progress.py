"""Progress of long work: silent in the library, drawn by the CLI on a terminal only."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cxroi import progress
from cxroi.cli import app
from cxroi.cli._render import RichReporter

runner = CliRunner()


class Recorder(progress.Reporter):
    """Every call, in order, as tuples."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._n = 0
        self._lock = threading.Lock()

    def open(self, description: str, total: float | None, depth: int) -> Any:
        with self._lock:
            self._n += 1
            self.calls.append(("open", self._n, description, total, depth))
            return self._n

    def advance(self, handle: Any, n: float) -> None:
        self.calls.append(("advance", handle, n))

    def step(self, handle: Any, description: str) -> None:
        self.calls.append(("step", handle, description))

    def close(self, handle: Any) -> None:
        self.calls.append(("close", handle))


def _work() -> list[int]:
    with progress.task("outer", total=2) as t:
        t.step("first")
        out = [x for x in progress.track(range(3), "inner")]
        progress.step("second")
        t.advance()
    return out


def test_the_library_is_silent_by_default(capsys):
    assert type(progress.reporter()) is progress.Reporter
    assert _work() == [0, 1, 2]
    progress.step("outside any task")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_tasks_nest_and_a_step_goes_to_the_innermost_open_task():
    rec = Recorder()
    with progress.reporting(rec):
        _work()
        progress.step("outside any task: ignored")
    assert type(progress.reporter()) is progress.Reporter  # restored
    assert rec.calls == [
        ("open", 1, "outer", 2, 0),
        ("step", 1, "first"),
        ("open", 2, "inner", 3, 1),  # the total from len()
        ("advance", 2, 1),
        ("advance", 2, 1),
        ("advance", 2, 1),
        ("close", 2),
        ("step", 1, "second"),
        ("advance", 1, 1),
        ("close", 1),
    ]


def test_a_task_closes_when_its_work_raises():
    rec = Recorder()
    with progress.reporting(rec), pytest.raises(ValueError), progress.task("failing"):
        raise ValueError("boom")
    assert rec.calls == [("open", 1, "failing", None, 0), ("close", 1)]
    progress.step("no task is left open")  # would fail on a stale stack


def test_a_decorated_function_runs_in_a_fresh_task_per_call():
    @progress.task("fitting")
    def fit(x: int) -> int:
        progress.step(f"x = {x}")
        return 2 * x

    rec = Recorder()
    with progress.reporting(rec):
        assert fit(1) == 2 and fit(2) == 4
    assert rec.calls == [
        ("open", 1, "fitting", None, 0),
        ("step", 1, "x = 1"),
        ("close", 1),
        ("open", 2, "fitting", None, 0),
        ("step", 2, "x = 2"),
        ("close", 2),
    ]
    assert fit.__name__ == "fit"


def test_a_worker_thread_reports_with_its_own_stack_of_tasks():
    rec = Recorder()

    def worker() -> None:
        progress.step("not inside the caller's task")
        with progress.task("in a thread") as t:
            t.advance(5)

    with progress.reporting(rec), progress.task("main"):
        th = threading.Thread(target=worker)
        th.start()
        th.join()
    assert rec.calls == [
        ("open", 1, "main", None, 0),
        ("open", 2, "in a thread", None, 0),
        ("advance", 2, 5),
        ("close", 2),
        ("close", 1),
    ]


def _terminal() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=120), buf


def test_the_rich_reporter_draws_on_a_terminal_and_clears_when_done():
    console, buf = _terminal()
    with progress.reporting(RichReporter(console, delay=0)), progress.task("outer", 2) as t:
        for _ in progress.track(range(3), "inner"):
            time.sleep(0.3)  # the bars refresh 8 times a second
        t.step("second")
        t.advance()
        time.sleep(0.5)
    out = buf.getvalue()
    assert "outer" in out and "  inner" in out and "/3" in out  # the child indented
    assert "outer: second" in out and "1/2" in out
    assert out.endswith("\x1b[2K\x1b[?25h\r")  # transient: the rows erased, the cursor back


def test_the_rich_reporter_escapes_descriptions_and_waits_before_drawing():
    console, buf = _terminal()
    bars = RichReporter(console, delay=0)
    with progress.reporting(bars), progress.task("[bold]x[/bold] \x1b[2J"):
        pass
    out = buf.getvalue()
    assert "[bold]x[/bold] \\x1b[2J" in out and "\x1b[2J" not in out
    console, buf = _terminal()
    with progress.reporting(RichReporter(console, delay=30)):
        _work()  # quicker than the delay: nothing drawn
    assert buf.getvalue() == ""


def test_a_cli_run_in_a_pipe_prints_no_progress(tmp_path):
    res = runner.invoke(
        app, ["demo", "-w", str(tmp_path / "ws"), "--customers", "300", "--months", "6",
              "--data-only"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "simulating" not in res.output and "ingesting" not in res.output
    assert "\x1b" not in res.output and "\r" not in res.output
    assert "Rows loaded" in res.stdout and res.stderr == ""


def test_a_cli_run_on_a_terminal_draws_on_stderr_never_on_stdout(tmp_path, monkeypatch):
    import cxroi.cli._app as cli_app

    console, buf = _terminal()
    monkeypatch.setattr(cli_app, "draws_progress", lambda: True)
    monkeypatch.setattr(cli_app, "progress_console", lambda: console)
    monkeypatch.setattr(cli_app, "PROGRESS_DELAY", 0)
    res = runner.invoke(
        app, ["demo", "-w", str(tmp_path / "ws"), "--customers", "300", "--months", "6",
              "--data-only"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    drawn = buf.getvalue()
    assert "simulating 300 customers" in drawn and "ingesting the demo company" in drawn
    assert "simulating" not in res.output and "\x1b" not in res.stdout
    assert type(progress.reporter()) is progress.Reporter  # uninstalled after the command


@pytest.mark.parametrize(
    ("env", "tty", "draws"),
    [({}, True, True), ({}, False, False), ({"NO_COLOR": "1"}, True, False),
     ({"TERM": "dumb"}, True, False)],
)  # fmt: skip
def test_progress_is_drawn_only_on_a_terminal_that_asks_for_it(monkeypatch, env, tty, draws):
    import cxroi.cli._app as cli_app

    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return tty

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr("sys.stderr", Stream())
    assert cli_app.draws_progress() is draws


def test_the_rich_reporter_ignores_a_task_that_outlives_it():
    console, _ = _terminal()
    bars = RichReporter(console, delay=0)
    with progress.reporting(bars):
        t = progress.task("left open", total=3).__enter__()
    bars.stop()  # the command ended with the task still open
    t.advance()
    t.step("late")
    t.__exit__(None, None, None)
