"""Small factories for test inputs."""

from __future__ import annotations

import csv
from pathlib import Path


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def transactions_rows(n: int, *, start: int = 0) -> list[list[object]]:
    """``n`` valid transaction rows with amounts ``i % 97 + 0.5``."""
    return [
        [f"T{i}", f"C{i % 50}", f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} 10:00:00", i % 97 + 0.5]
        for i in range(start, start + n)
    ]


TX_HEADER = ["transaction_id", "customer_id", "ts", "amount"]
