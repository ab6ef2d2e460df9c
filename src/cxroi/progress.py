"""Progress of long work: library code marks its long steps, a front-end decides whether to show
them.

The library never draws anything. Its long steps tell this module what they are doing; the
installed :class:`Reporter` decides what to show. The default reporter shows nothing, so a
library user, a notebook and the tests see no output and pay almost nothing. The command line
installs a Rich reporter for every command when stderr is a terminal (transient bars on
stderr, cleared when done); in a pipe, with ``NO_COLOR`` or ``TERM=dumb`` it installs none.

The API (stable: other modules call it)::

    from cxroi import progress

    # a task with a known number of parts: a bar
    with progress.task("fitting the hazard model", total=len(patterns)) as t:
        for p in patterns:
            ...
            t.advance()          # or t.advance(n) for n parts at once

    # a task of unknown length: a spinner with the elapsed time
    with progress.task("scoring churn risk") as t:
        t.step("profiling customers")   # what the task does now
        ...
        t.step("fitting the model")

    # an iterable (total from len() when it has one)
    for k in progress.track(range(2, 9), "archetypes: fitting K"):
        ...

    # a whole function as one task (a fresh task per call)
    @progress.task("drivers")
    def drivers(ws, ...):
        progress.step("reading responses")  # names the step of the innermost open task
        ...

- ``task(description, total=None)`` returns a :class:`Task`, a context manager (and a
  decorator) with ``advance(n=1)`` and ``step(description)``. ``total`` counts parts in
  whatever unit suits (customers, batches, tables); ``None`` means unknown.
- ``track(iterable, description, total=None)`` yields the items, advancing once per item.
- ``step(description)`` says what the innermost open task of this thread (or async task) is
  doing now. Outside an open task it does nothing: open a task around long work.
- Tasks nest: a task opened inside another shows as its child. Each thread or async task has
  its own stack of open tasks (a :class:`~contextvars.ContextVar`); the reporter is one for
  the process, so a task opened in a worker thread shows as well. Worker processes report
  nothing.
- Report per batch, block or model fit, not per row: a call costs a few hundred nanoseconds
  with the default reporter, a lock and a dictionary update with a drawing one.
- Descriptions are short plain text (no markup); the drawing reporter escapes them.

A front-end installs a reporter with ``with progress.reporting(MyReporter()): ...``, a
subclass of :class:`Reporter` that overrides ``open``, ``advance``, ``step`` and ``close``.
This module imports nothing outside the standard library, so any layer may use it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

__all__ = ["Reporter", "Task", "reporter", "reporting", "step", "task", "track"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class Reporter:
    """What shows progress. This base class shows nothing: the library's default.

    A front-end subclasses it. ``open`` is called when a task starts and returns a handle that
    the other three methods receive. The methods may be called from several threads at once.
    """

    def open(self, description: str, total: float | None, depth: int) -> Any:
        """A task starts: ``description``, ``total`` parts (``None``: unknown) and ``depth``,
        the number of open tasks it runs inside (0 at the top)."""
        return None

    def advance(self, handle: Any, n: float) -> None:
        """``n`` more parts of the task are done."""

    def step(self, handle: Any, description: str) -> None:
        """The task is now doing ``description``."""

    def close(self, handle: Any) -> None:
        """The task ended (done, or stopped by an exception)."""


_SILENT = Reporter()
_reporter: Reporter = _SILENT
_lock = threading.Lock()
_open: ContextVar[tuple[Task, ...]] = ContextVar("cxroi_progress_open", default=())


def reporter() -> Reporter:
    """The reporter installed now (the silent default unless a front-end installed one)."""
    return _reporter


@contextmanager
def reporting(new: Reporter) -> Iterator[Reporter]:
    """Install ``new`` for the whole process while the block runs, then restore the previous
    reporter."""
    global _reporter
    with _lock:
        previous, _reporter = _reporter, new
    try:
        yield new
    finally:
        with _lock:
            _reporter = previous


class Task:
    """One piece of long work being reported; make it with :func:`task`.

    Use it as a context manager (``with task(...) as t``) or as a decorator
    (``@task(...)``: each call of the function runs in a fresh task).
    """

    __slots__ = ("_handle", "_reporter", "description", "total")

    def __init__(self, description: str, total: float | None = None):
        self.description = description
        self.total = total
        self._reporter: Reporter | None = None
        self._handle: Any = None

    def __enter__(self) -> Task:
        if self._reporter is not None:
            raise RuntimeError(f"progress task {self.description!r} is already open")
        stack = _open.get()
        self._reporter = _reporter
        self._handle = self._reporter.open(self.description, self.total, len(stack))
        _open.set((*stack, self))
        return self

    def __exit__(self, *exc: object) -> None:
        rep, self._reporter = self._reporter, None
        # without a reset token: the exit may run in another context (a generator closed late)
        _open.set(tuple(t for t in _open.get() if t is not self))
        if rep is not None:
            rep.close(self._handle)

    def advance(self, n: float = 1) -> None:
        """``n`` more parts are done."""
        if self._reporter is not None:
            self._reporter.advance(self._handle, n)

    def step(self, description: str) -> None:
        """The task is now doing ``description``."""
        if self._reporter is not None:
            self._reporter.step(self._handle, description)

    def __call__(self, fn: F) -> F:
        description, total = self.description, self.total

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with Task(description, total):
                return fn(*args, **kwargs)

        return run  # type: ignore[return-value]


def task(description: str, total: float | None = None) -> Task:
    """A task: ``description`` and ``total`` parts (``None``: unknown length).

    Examples
    --------
    >>> with task("counting", total=3) as t:
    ...     for _ in range(3):
    ...         t.advance()
    """
    return Task(description, total)


def track(iterable: Iterable[T], description: str, total: float | None = None) -> Iterator[T]:
    """Yield the items of ``iterable`` in a task that advances once per item.

    ``total`` defaults to ``len(iterable)`` when it has a length.

    Examples
    --------
    >>> [x * 2 for x in track([1, 2, 3], "doubling")]
    [2, 4, 6]
    """
    if total is None and isinstance(iterable, Sized):
        total = len(iterable)
    with Task(description, total) as t:
        for item in iterable:
            yield item
            t.advance()


def step(description: str) -> None:
    """Say what the innermost open task of this thread is doing now (nothing outside one)."""
    stack = _open.get()
    if stack:
        stack[-1].step(description)
