"""The Typer app, its error handling and the options every command shares.

A library error (:class:`~cxroi.errors.CxroiError`) prints as ``error: …`` on stderr and exits
with code 2, never a traceback. Library messages name parameters (``skip_bad``); here they are
written as the running command's flags (``--skip-bad``).

Every command runs with the library's progress (:mod:`cxroi.progress`) drawn as transient
Rich bars on stderr when stderr is a terminal, and silent otherwise: in a pipe or a file, with
``NO_COLOR`` set, or with ``TERM=dumb``. The commands themselves do nothing for it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cxroi.cli._safe import plain
from cxroi.errors import CxroiError

__all__ = ["FormatOpt", "TableOpt", "WorkspaceOpt", "app", "fail", "open_workspace"]


def _flag_namer(command: Any):
    flags: dict[str, tuple[str, bool]] = {}
    if command is not None:
        for p in command.params:
            if getattr(p, "param_type_name", "") == "option" and p.name:
                longs = [o for o in p.opts if o.startswith("--")] or list(p.opts)
                flags[p.name] = (longs[0], bool(p.is_flag))

    def name(parameter: str, value: str | None) -> str:
        if parameter not in flags:  # not an option of this command: say it as the library does
            return parameter if value is None else f"{parameter}={value}"
        flag, is_flag = flags[parameter]
        if value is None or (is_flag and value == "True"):
            return flag
        if value == "False" and is_flag:
            return "--no-" + flag.removeprefix("--")
        return f"{flag} {value}"

    return name


PROGRESS_DELAY = 0.5
"""Seconds a task runs before its bar is drawn (quick commands draw nothing)."""


def draws_progress() -> bool:
    """Whether progress is drawn: stderr is a terminal, and neither ``NO_COLOR`` nor
    ``TERM=dumb`` asks for plain output."""
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False
    return tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def progress_console() -> Any:
    """The Rich console progress is drawn on: stderr."""
    from rich.console import Console

    return Console(stderr=True)


@contextmanager
def progress_bars() -> Iterator[None]:
    """Draw the library's progress while the block runs, if :func:`draws_progress`; the bars
    are cleared before the block's exit continues (so an error prints after them)."""
    if not draws_progress():
        yield
        return
    from cxroi import progress
    from cxroi.cli._render import RichReporter

    bars = RichReporter(progress_console(), delay=PROGRESS_DELAY)
    try:
        with progress.reporting(bars):
            yield
    finally:
        bars.stop()


class _Group(TyperGroup):
    """Turns library errors into one clean message (flags, not parameters) and exit code 2."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, cmd, rest = super().resolve_command(ctx, args)
        ctx.meta["cxroi.command"] = cmd  # to name its flags in an error
        return name, cmd, rest

    def invoke(self, ctx: Any) -> Any:
        try:
            with progress_bars():
                return super().invoke(ctx)
        except CxroiError as e:
            cmd = ctx.meta.get("cxroi.command")
            typer.echo(f"error: {plain(e.render(_flag_namer(cmd)), newlines=True)}", err=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Group,
    help="cxroi: customer-experience analytics from what you do (A), through how customers "
    "perceive it (C), to what they are worth (B).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder.", show_default=True)
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
TableOpt = Annotated[
    str | None,
    typer.Option(
        "--table",
        help="Which of the result's tables: for --format csv (default: the first) or the "
        "only one the table view prints.",
    ),
]


def open_workspace(path: Path, purpose: str, *, write: bool = False):
    """Open the workspace for a command: read-only unless it writes; waiting is announced."""
    from cxroi.store import Workspace

    def note(msg: str) -> None:
        typer.echo(plain(msg), err=True)

    return Workspace.open(path, read_only=not write, purpose=purpose, on_wait=note)


def fail(message: str) -> None:
    """Stop with a one-line usage error (exit code 2)."""
    raise CxroiError(message)
