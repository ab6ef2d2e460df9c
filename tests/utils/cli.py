"""Run the CLI in tests and read its JSON back as a result."""

from __future__ import annotations

from typer.testing import CliRunner

from cxroi.results import Result

runner = CliRunner()


def run_json(args: list[str]) -> Result:
    """Invoke ``cxroi ARGS --format json``; assert exit 0 and return the parsed :class:`Result`."""
    from cxroi.cli import app

    res = runner.invoke(app, [*args, "--format", "json"])
    assert res.exit_code == 0, res.output
    return Result.from_json(res.stdout)


def rows(args: list[str], table: str | None = None) -> list[dict]:
    """The rows of one table (default: the first) of ``cxroi ARGS --format json``."""
    return run_json(args).get(table).records()
