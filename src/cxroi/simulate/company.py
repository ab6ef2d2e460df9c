"""Orchestration: generate a whole synthetic company in customer blocks, with its truth.

Customers are simulated in blocks of :data:`BLOCK` customers; block ``b`` draws from
``numpy.random.default_rng([seed, b])``, so the data depend only on the seed and the size, and
:func:`generate` (in memory) and :func:`generate_to` (streamed to Parquet) give identical
rows. Block-local ids are numbered on after the previous block, so ids are dense.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cxroi import progress
from cxroi.errors import CxroiError
from cxroi.schema import CASE_STATUSES
from cxroi.simulate import params as P
from cxroi.simulate.behaviour import (
    PRODUCTS,
    TX_CHANNELS,
    contracts,
    simulate_churn,
    transactions,
    windows,
)
from cxroi.simulate.columns import NULL, cat, date, fmt_id, int_or_null, ts
from cxroi.simulate.comments import THEME_NAMES
from cxroi.simulate.customers import Calendar, city_names, draw_cities, make_customers
from cxroi.simulate.initiatives import EffectTally, Latent, initiatives_table
from cxroi.simulate.journeys import (
    EVENT_CHANNELS,
    OUTCOMES,
    TOUCHPOINT_NAMES,
    degraded_from,
    events,
)
from cxroi.simulate.perception import (
    CASE_OUTCOMES,
    CASE_OWNERS,
    RESPONSE_TOUCHPOINTS,
    SURVEYS,
    PerceptionTally,
    cases,
    closed_loop,
    responses,
)
from cxroi.simulate.support import make_tickets, ticket_columns

__all__ = ["BLOCK", "Company", "generate", "generate_to"]

BLOCK = 50_000
LOYAL = list(P.ARCHETYPES).index("loyal_high_value")
TABLE_NAMES: tuple[str, ...] = (
    "customers",
    "transactions",
    "contracts",
    "responses",
    "tickets",
    "events",
    "initiatives",
    "cases",
    "invitations",
)
# table -> (its own id column, prefix, digits)
_IDS = {
    "transactions": ("transaction_id", "T", 9),
    "responses": ("response_id", "R", 9),
    "tickets": ("ticket_id", "S", 8),
    "events": ("event_id", "E", 10),
    "cases": ("case_id", "X", 8),
}
TRUTH_FILES = {"archetypes": "archetypes.parquet", "comment_themes": "comment_themes.parquet"}


@dataclass
class _Stats:
    counts: dict[str, float] = field(default_factory=dict)

    def add(self, key: str, value: float) -> None:
        self.counts[key] = self.counts.get(key, 0.0) + float(value)


@dataclass
class _Block:
    tables: dict[str, pa.Table]
    extra: dict[str, pa.Table]
    tallies: list[EffectTally]
    themes: PerceptionTally
    stats: _Stats


def _cid(block_offset: int, i: np.ndarray) -> pa.Array:
    return fmt_id("C", 7, block_offset + np.asarray(i) + 1)


def _simulate_block(seed: int, b: int, off: int, n: int, cal: Calendar) -> _Block:
    rng = np.random.default_rng([seed, b])
    block = make_customers(rng, n, off, cal)
    draw_cities(np.random.default_rng([seed, b, 1]), block)
    latent = Latent(block, cal.months)
    s, group = latent.monthly()
    lo0, hi0 = windows(block, cal)
    sup = P.DIMENSIONS.index("support")
    m = np.arange(cal.months)
    q_support = np.repeat(block.quality[:, sup][:, None], cal.months, axis=1)
    for j in np.flatnonzero(latent.dims == sup):
        on = latent.targeted[:, j][:, None] & (m[None, :] >= latent.starts[j])
        q_support += latent.shifts[j] * on
    tickets = make_tickets(rng, block, cal, lo0, hi0, q_support)
    tallies = [EffectTally(j) for j in range(len(P.INITIATIVES))]
    loop = closed_loop(rng, cal, lo0, hi0, s, tickets.slow_month)
    churn = simulate_churn(
        rng, block, cal, latent, s, group, tickets.slow_month, tallies, loop.penalty
    )
    end = np.where(churn.end_s == NULL, cal.end, churn.end_s)
    tickets = tickets.subset(tickets.opened < end[tickets.i])
    lo, hi = windows(block, cal, churn.end_s)
    tx = transactions(rng, block, cal, lo, hi, group)
    themes = PerceptionTally()
    resp = responses(rng, block, cal, latent, lo, hi, end, tickets, tx, tallies, themes, loop)
    cs = cases(rng, resp, cal, loop)
    ev = events(
        rng, block, cal, latent, lo, hi, end, tickets, tx, np.random.default_rng([seed, b, 2])
    )
    con = contracts(rng, block, churn, cal)

    stats = _Stats()
    at_risk = (m[None, :] > block.first_month[:, None]) & (m[None, :] <= churn.month[:, None])
    stats.add("churn_exposure", at_risk.sum())
    stats.add("churn_events", (churn.month < cal.months).sum())
    stats.add("resp_n", resp["nps"].size)
    stats.add("resp_prom", (resp["nps"] >= 9).sum())
    stats.add("resp_det", (resp["nps"] <= 6).sum())
    stats.add("csat_top2", (resp["csat"] >= 4).sum())
    stats.add("comments", resp["comment_rows"].size)
    stats.add("revenue", tx["amount"].sum())
    assert block.niche is not None
    stats.add("niche_n", block.niche.sum())
    stats.add("niche_loyal", (block.niche & (block.archetype == LOYAL)).sum())

    tables = {
        "customers": pa.table(
            {
                "customer_id": _cid(off, np.arange(n)),
                "signup_date": date(block.signup_s),
                "plan": cat(block.plan, P.PLANS),
                "region": cat(block.region, P.REGIONS),
                "age": pa.array(block.age, pa.int64()),
                "occupation": cat(block.occupation, P.OCCUPATIONS),
                "channel": cat(block.channel, P.CHANNELS),
                "city": pa.array(city_names(block), pa.string()),
            }
        ),
        "transactions": pa.table(
            {
                "transaction_id": np.arange(tx["i"].size),
                "customer_id": _cid(off, tx["i"]),
                "ts": ts(tx["ts"]),
                "amount": pa.array(tx["amount"], pa.float64()),
                "product": cat(tx["product"], PRODUCTS),
                "channel": cat(tx["channel"], TX_CHANNELS),
                "quantity": pa.array(tx["quantity"], pa.int64()),
            }
        ),
        "contracts": pa.table(
            {
                "contract_id": fmt_id("K", 8, con["number"]),
                "customer_id": fmt_id("C", 7, con["customer"] + 1),
                "start_date": date(con["start"]),
                "value": pa.array(con["value"], pa.float64()),
                "end_date": date(con["end"]),
                "plan": cat(con["plan"], (*P.PLANS, "addon")),
                "billing_period": pa.array(np.full(con["plan"].size, "month")),
            }
        ),
    }
    comment = pa.nulls(resp["i"].size, pa.string())
    if resp["comment_rows"].size:
        mask = np.zeros(resp["i"].size, bool)
        mask[resp["comment_rows"]] = True
        comment = pc.replace_with_mask(comment, pa.array(mask), resp["comment"])
    rcols: dict[str, Any] = {
        "response_id": np.arange(resp["i"].size),
        "ts": ts(resp["ts"]),
        "customer_id": _cid(off, resp["i"]),
        "survey": cat(resp["survey"], SURVEYS),
        "touchpoint": cat(resp["touchpoint"], RESPONSE_TOUCHPOINTS),
        "nps": pa.array(resp["nps"], pa.int64()),
        "csat": pa.array(resp["csat"], pa.int64()),
        "ces": int_or_null(resp["ces"], resp["ces"] == NULL),
        "comment": comment,
    }
    for k, d in enumerate(P.DIMENSIONS):
        r = resp["rating"][:, k]
        rcols[f"rating_{d}"] = int_or_null(r, r == NULL)
    tables["responses"] = pa.table(rcols)
    tc = ticket_columns(tickets, cal)
    tables["tickets"] = pa.table(
        {
            "ticket_id": np.arange(tickets.i.size),
            "customer_id": _cid(off, tickets.i),
            "opened_at": ts(tc["opened_at"]),
            "first_response_at": ts(tc["first_response_at"]),
            "resolved_at": ts(tc["resolved_at"]),
            "channel": cat(tickets.channel, P.TICKET_CHANNELS),
            "cost": pa.array(tc["cost"], pa.float64()),
            "csat": pa.array(tc["csat"], pa.int64()),
            "category": cat(tickets.category, P.TICKET_CATEGORIES),
        }
    )
    tables["events"] = pa.table(
        {
            "event_id": np.arange(ev["i"].size),
            "customer_id": _cid(off, ev["i"]),
            "ts": ts(ev["ts"]),
            "touchpoint": cat(ev["touchpoint"], TOUCHPOINT_NAMES),
            "stage": cat(ev["stage"], P.STAGES),
            "outcome": cat(ev["outcome"], OUTCOMES),
            "channel": cat(ev["channel"], EVENT_CHANNELS),
        }
    )
    tables["cases"] = pa.table(
        {
            "case_id": np.arange(cs["status"].size),
            "response_id": cs["response_row"],
            "status": cat(cs["status"], CASE_STATUSES),
            "opened_at": ts(cs["opened_at"]),
            "owner": cat(cs["owner"], CASE_OWNERS),
            "closed_at": ts(cs["closed_at"]),
            "outcome": cat(cs["outcome"], CASE_OUTCOMES),
            "notes": pa.nulls(cs["status"].size, pa.string()),
            "due_at": ts(
                np.where(cs["opened_at"] == NULL, NULL, cs["opened_at"] + P.CASE_DUE_DAYS * 86_400)
            ),  # fmt: skip
        }
    )
    extra = {
        "archetypes": pa.table(
            {
                "customer_id": tables["customers"]["customer_id"],
                "archetype": cat(block.archetype, tuple(P.ARCHETYPES)),
                "base_satisfaction": pa.array(latent.base, pa.float64()),
            }
        ),
        "comment_themes": pa.table(
            {
                "response_id": resp["theme_row"],
                "theme": cat(resp["theme"], THEME_NAMES),
                "polarity": cat(resp["theme_negative"].astype(np.int64), ("positive", "negative")),
            }
        ),
    }
    return _Block(tables, extra, tallies, themes, stats)


def _raw_blocks(seed: int, cal: Calendar, customers: int, workers: int) -> Iterator[_Block]:
    """Simulated blocks in order; with ``workers > 1`` drawn by a pool of threads."""
    size = BLOCK
    jobs = [
        (seed, b, b * size, min(size, customers - b * size), cal)
        for b in range(-(-customers // size))
    ]
    if workers <= 1 or len(jobs) == 1:
        for job in jobs:
            yield _simulate_block(*job)
        return
    # Threads, not processes: numpy's bulk draws and Arrow's kernels release the GIL, and a
    # thread pool needs no ``if __name__ == "__main__"`` guard in the caller's script.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[_Block]] = deque()
        for job in jobs:
            pending.append(pool.submit(_simulate_block, *job))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _calendar(customers: int, months: int, start: str) -> Calendar:
    if customers < 1 or months < 2:
        raise CxroiError(
            f"simulate: need customers >= 1 and months >= 2, got {customers}, {months}"
        )
    try:
        return Calendar(np.datetime64(start, "D"), months)
    except ValueError as exc:
        raise CxroiError(f"simulate: start {start!r} is not a date (YYYY-MM-DD)") from exc


def _blocks(cal: Calendar, customers: int, seed: int, workers: int = 1) -> Iterator[_Block]:
    """Simulated blocks with their ids numbered on from the previous blocks'."""
    offsets = dict.fromkeys(_IDS, 0)
    with progress.task(f"simulating {customers:,} customers", total=customers) as bar:
        for blk in _raw_blocks(seed, cal, customers, workers):
            resp_off = offsets["responses"]
            for name, (col, prefix, width) in _IDS.items():
                t = blk.tables[name]
                local = t[col].to_numpy()
                ids = fmt_id(prefix, width, local + offsets[name] + 1)
                blk.tables[name] = t.set_column(t.schema.get_field_index(col), col, ids)
                offsets[name] += t.num_rows
            c = blk.tables["cases"]
            rid = fmt_id("R", 9, c["response_id"].to_numpy() + resp_off + 1)
            blk.tables["cases"] = c.set_column(
                c.schema.get_field_index("response_id"), "response_id", rid
            )
            ct = blk.extra["comment_themes"]
            rid = fmt_id("R", 9, ct["response_id"].to_numpy() + resp_off + 1)
            blk.extra["comment_themes"] = ct.set_column(0, "response_id", rid)
            yield blk
            bar.advance(blk.tables["customers"].num_rows)


def _truth(
    customers: int, months: int, seed: int, start: str, cal: Calendar, acc: _Block
) -> dict[str, Any]:
    truth = P.static_truth()
    st = acc.stats.counts
    n = max(st["resp_n"], 1)
    truth["generator"] = {
        "customers": customers,
        "months": months,
        "seed": seed,
        "start": start,
        "end": str(np.datetime64(cal.end, "s").astype("datetime64[D]")),
        "block": BLOCK,
        "revision": P.REVISION,
    }
    truth["initiatives"] = [t.truth(months, cal, customers) for t in acc.tallies]
    truth["theme_effects_on_nps"] = acc.themes.theme_truth()
    truth["driver_shares"] = acc.themes.driver_truth()
    truth["marginals"] = {
        "nps": 100.0 * (st["resp_prom"] - st["resp_det"]) / n,
        "csat_top2": st["csat_top2"] / n,
        "monthly_churn": st["churn_events"] / max(st["churn_exposure"], 1),
        "comment_share": st["comments"] / n,
        "revenue": st["revenue"],
    }
    niche = P.PLANTED_NICHE
    truth["planted_opportunity"] = {
        "column": niche["column"],
        "value": niche["value"],
        "churn_factor": niche["churn_factor"],
        "customers": int(st["niche_n"]),
        "share": st["niche_n"] / max(customers, 1),
        "loyal_high_value_share": st["niche_loyal"] / max(st["niche_n"], 1),
        "description": (
            f"customers of {niche['column']} {niche['value']!r} (region {niche['region']!r}, "
            "mostly loyal high-value) churn "
            f"{niche['churn_factor']:g}x as fast as their archetype and NPS group imply"
        ),
    }
    first = np.datetime64(int(cal.bounds[degraded_from(cal)]), "s").astype("datetime64[D]")
    truth["degraded_touchpoint"] = {
        "touchpoint": P.DEGRADED["touchpoint"],
        "backstage_event": P.DEGRADED["backstage_event"],
        "start": str(first),
        "end": truth["generator"]["end"],
        "satisfaction_effect": P.DEGRADED["satisfaction_effect"],
        "handover_hours": {
            "before": list(P.HANDOVER_HOURS),
            "during": list(P.DEGRADED["handover_hours"]),
        },  # fmt: skip
        "expected_csat": acc.themes.degraded_truth(),
        "description": (
            f"from {first} the time from {P.DEGRADED['backstage_event']} to the carrier "
            f"handover grows and the latent satisfaction of every response at "
            f"{P.DEGRADED['touchpoint']} drops by {-P.DEGRADED['satisfaction_effect']:g}; "
            "relationship answers and churn are untouched"
        ),
    }
    truth["customer_archetype"] = {
        "file": TRUTH_FILES["archetypes"],
        "columns": ["customer_id", "archetype", "base_satisfaction"],
    }
    truth["comment_themes"] = {
        "file": TRUTH_FILES["comment_themes"],
        "columns": ["response_id", "theme", "polarity"],
    }
    return truth


def _merge(acc: _Block | None, blk: _Block) -> _Block:
    if acc is None:
        return _Block({}, {}, blk.tallies, blk.themes, blk.stats)
    for a, b in zip(acc.tallies, blk.tallies, strict=True):
        a.merge(b)
    acc.themes.merge(blk.themes)
    for k, v in blk.stats.counts.items():
        acc.stats.add(k, v)
    return acc


@dataclass
class Company:
    """A generated company: the eight canonical tables and the ground truth.

    Attributes
    ----------
    tables
        ``{name: pyarrow.Table}`` for every canonical table.
    truth
        JSON-serialisable ground truth (what ``ground_truth.json`` holds).
    archetypes
        ``customer_id, archetype, base_satisfaction`` (the latent archetype of each customer).
    comment_themes
        ``response_id, theme, polarity``: the true themes of every comment.
    """

    tables: dict[str, pa.Table]
    truth: dict[str, Any]
    archetypes: pa.Table
    comment_themes: pa.Table

    def write(self, directory: str | Path) -> Path:
        """Write ``<table>.parquet`` for every table and the ground truth into ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for name, table in self.tables.items():
            pq.write_table(table, out / f"{name}.parquet")
        pq.write_table(self.archetypes, out / TRUTH_FILES["archetypes"])
        pq.write_table(self.comment_themes, out / TRUTH_FILES["comment_themes"])
        (out / "ground_truth.json").write_text(json.dumps(self.truth, indent=1))
        return out

    @classmethod
    def read(cls, directory: str | Path) -> Company:
        """Read back a company written by :meth:`write` or :func:`generate_to`.

        Raises
        ------
        CxroiError
            When ``directory`` lacks one of the files.
        """
        src = Path(directory)
        names = [*(f"{n}.parquet" for n in TABLE_NAMES), *TRUTH_FILES.values()]
        missing = [n for n in (*names, "ground_truth.json") if not (src / n).exists()]
        if missing:
            raise CxroiError(f"simulate: {src} lacks {', '.join(missing)}")
        return cls(
            tables={n: pq.read_table(src / f"{n}.parquet") for n in TABLE_NAMES},
            truth=json.loads((src / "ground_truth.json").read_text()),
            archetypes=pq.read_table(src / TRUTH_FILES["archetypes"]),
            comment_themes=pq.read_table(src / TRUTH_FILES["comment_themes"]),
        )


def invitations_table() -> pa.Table:
    """The invitations table: empty, since the simulated company surveys without cxroi's
    invitations (every canonical table exists, with its declared types)."""
    return pa.table({"invitation_id": pa.array([], pa.string()),
                     "customer_id": pa.array([], pa.string()),
                     "survey": pa.array([], pa.string()),
                     "invited_at": pa.array([], pa.timestamp("us")),
                     "expires_at": pa.array([], pa.timestamp("us")),
                     "reminded_at": pa.array([], pa.timestamp("us"))})  # fmt: skip


def generate(
    *, customers: int = 5_000, months: int = 24, seed: int = 0, start: str = "2024-01-01"
) -> Company:
    """Generate a synthetic company in memory.

    Parameters
    ----------
    customers
        Number of customers (existing at the start plus those acquired during the run).
    months
        Number of simulated calendar months, from the month of ``start``.
    seed
        Random seed; the same seed and sizes give identical tables.
    start
        First day of the simulation (``YYYY-MM-DD``; the run starts at its month).

    Returns
    -------
    Company
    """
    parts: dict[str, list[pa.Table]] = {}
    cal = _calendar(customers, months, start)
    acc: _Block | None = None
    for blk in _blocks(cal, customers, seed):
        for name, t in (*blk.tables.items(), *blk.extra.items()):
            parts.setdefault(name, []).append(t)
        acc = _merge(acc, blk)
    assert acc is not None
    tables = {name: pa.concat_tables(parts[name]) for name in TABLE_NAMES
              if name not in ("initiatives", "invitations")}  # fmt: skip
    tables["initiatives"] = initiatives_table(cal, customers)
    tables["invitations"] = invitations_table()
    tables = {name: tables[name] for name in TABLE_NAMES}
    return Company(
        tables=tables,
        truth=_truth(customers, months, seed, start, cal, acc),
        archetypes=pa.concat_tables(parts["archetypes"]),
        comment_themes=pa.concat_tables(parts["comment_themes"]),
    )


def generate_to(
    directory: str | Path,
    *,
    customers: int = 1_000_000,
    months: int = 24,
    seed: int = 0,
    start: str = "2024-01-01",
    workers: int | None = None,
) -> dict[str, Any]:
    """Generate a company block by block, streaming every table straight to Parquet.

    Writes ``<table>.parquet`` for the eight canonical tables, ``ground_truth.json``,
    ``archetypes.parquet`` and ``comment_themes.parquet`` into ``directory``. Memory stays at
    a few blocks of :data:`BLOCK` customers. The rows equal :func:`generate`'s.

    Parameters
    ----------
    directory
        Output folder (created if missing).
    customers, months, seed, start
        As in :func:`generate`.
    workers
        Threads drawing blocks in parallel (default: up to 2, bounded by the CPU count);
        the calling thread formats ids and writes. The result does not depend on it.

    Returns
    -------
    dict
        The ground truth (also written as ``ground_truth.json``).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    writers: dict[str, pq.ParquetWriter] = {}
    cal = _calendar(customers, months, start)
    acc: _Block | None = None
    try:
        if workers is None:
            workers = min(2, os.cpu_count() or 1)
        for blk in _blocks(cal, customers, seed, workers):
            for name, t in (*blk.tables.items(), *blk.extra.items()):
                if name not in writers:
                    fname = TRUTH_FILES.get(name, f"{name}.parquet")
                    writers[name] = pq.ParquetWriter(out / fname, t.schema)
                writers[name].write_table(t)
            acc = _merge(acc, blk)
    finally:
        for w in writers.values():
            w.close()
    assert acc is not None
    pq.write_table(initiatives_table(cal, customers), out / "initiatives.parquet")
    pq.write_table(invitations_table(), out / "invitations.parquet")
    truth = _truth(customers, months, seed, start, cal, acc)
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=1))
    return truth
