"""Refresh the console output of the README's demo tour from real runs.

    .venv/bin/python docs/readme_tour.py            # rewrite README.md in place
    .venv/bin/python docs/readme_tour.py --check    # exit 1 if any output differs

Every ```console block after the "### The demo company" heading is re-run: each line starting
with ``$ `` is a command, run with bash in a scratch folder (the ``cxroi demo`` command there
creates ``demo-workspace``; later commands run inside it, in README order, so writes such as
``initiative add`` affect only the scratch copy). Its combined output replaces the lines that
followed it. The truth-check table after the demo block is copied from the new report. Blocks
before the heading (the hand-made ``acme`` files) are left as they are.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADING = "### The demo company"


def _run(cmd: str, cwd: Path) -> str:
    env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}", COLUMNS="200")
    out = subprocess.run(
        ["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    text = (out.stdout + out.stderr).rstrip()
    return "\n".join(line.rstrip() for line in text.splitlines())


def refresh(text: str, scratch: Path) -> str:
    head, _, tail = text.partition(HEADING)
    lines = tail.split("\n")
    out: list[str] = []
    cwd = scratch
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        if line.strip() != "```console":
            continue
        while i < len(lines) and lines[i].strip() != "```":
            if lines[i].startswith("$ "):
                cmd = lines[i][2:]
                out.append(lines[i])
                out.extend(_run(cmd, cwd).split("\n"))
                if cmd.startswith("cxroi demo"):
                    cwd = scratch / "demo-workspace"
                i += 1
                while (
                    i < len(lines) and not lines[i].startswith("$ ") and lines[i].strip() != "```"
                ):
                    i += 1
            else:
                i += 1
    body = "\n".join(out)
    report = (scratch / "demo-workspace" / "reports" / "report.md").read_text(encoding="utf-8")
    table = re.search(r"\n(\| quantity \|.*?)\n\n", report, re.S)
    if table:
        body = re.sub(r"\n\| quantity \| estimate \| truth \| covered \|.*?\n\n",
                      "\n" + table.group(1).replace("\\", "\\\\") + "\n\n", body, count=1,
                      flags=re.S)  # fmt: skip
    return head + HEADING + body


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        new = refresh(text, Path(tmp))
    if a.check:
        return 0 if new == text else 1
    readme.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
