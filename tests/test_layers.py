"""The architecture is enforced, not hoped for: import contracts, types, size, docs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent
PACKAGE = ROOT / "src" / "cxroi"


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, env=env)


def test_import_contracts_hold():
    """front-ends -> analyses -> models|text|monitor -> metrics -> data -> base."""
    r = _run(str(BIN / "lint-imports"), "--no-cache")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 kept, 0 broken" in r.stdout


def test_the_library_is_typed_cleanly():
    r = _run(str(BIN / "mypy"), "--cache-dir", "/tmp/cxroi-mypy-cache", "src/cxroi")
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize(
    "path", sorted(p.relative_to(PACKAGE) for p in PACKAGE.rglob("*.py")), ids=str
)
def test_no_module_holds_more_than_one_concept(path):
    lines = (PACKAGE / path).read_text(encoding="utf-8").count("\n")
    assert lines <= 600, f"{path} has {lines} lines: split it by concept"


def test_nps_cut_offs_are_written_once_outside_the_simulator():
    import re

    cut = re.compile(r"(?:>=|>)\s*(?:9|7|6)\b|<=\s*6\b|<\s*7\b")
    hits = []
    for p in PACKAGE.rglob("*.py"):
        rel = p.relative_to(PACKAGE)
        if rel.parts[0] == "simulate" or rel == Path("metrics/nps.py"):
            continue
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if "nps" in line.lower() and cut.search(line):
                hits.append(f"{rel}:{i}: {line.strip()}")
    assert hits == []


@pytest.mark.skipif(shutil.which(str(BIN / "mkdocs")) is None, reason="mkdocs not installed")
def test_docs_build_in_strict_mode(tmp_path):
    r = _run(str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(tmp_path / "site"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "site" / "walkthrough" / "index.html").exists()
    api = (tmp_path / "site" / "api" / "analyses" / "index.html").read_text(encoding="utf-8")
    assert "workspace_tables" in api and "Every CX and money metric" in api
