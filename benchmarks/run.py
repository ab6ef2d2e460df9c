"""Run every benchmark (``make bench``): each ``bench_*.py`` in its own process, in order.

Usage: ``python benchmarks/run.py [--scale small|full] [NAME ...]``. Each benchmark prints
``name: value`` lines; figures measured are recorded in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=["small", "full"], default="full")
    parser.add_argument("names", nargs="*", help="only these benchmarks (e.g. ingest clv)")
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.names]
    failed = []
    for script in scripts:
        print(f"== {script.stem} ({args.scale})", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script), "--scale", args.scale])
        print(f"   [{script.stem} finished in {time.perf_counter() - t0:.1f} s, exit {rc}]\n")
        if rc:
            failed.append(script.stem)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
