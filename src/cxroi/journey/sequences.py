"""Each customer's events in time order, the one sort the journey's measures share.

The time to the next step of a touchpoint (:mod:`cxroi.journey.metrics`), the paths and the
directly-follows counts (:mod:`cxroi.journey.flow`) all read every customer's events in time
order. Ties in time are ordered by touchpoint: rows equal in both are interchangeable for
every use here, so the answers do not depend on the order a parallel scan returns them in.
Events without a customer, a time or a touchpoint are left out (the schema requires all three).

**On DuckDB, packed lists** (:class:`Steps`): every event's time and touchpoint packed into one
integer that sorts by time, then touchpoint, collected per customer in one grouped pass and
each short list sorted. A window over the events partitioned by the text customer id and
sorted by time and touchpoint gives the same order but sorts all 18 million events of a
million customers on text keys, about twice the work. The same pass can OR together one bit
per touchpoint a customer visited (``mask``), from which the distinct customers of any set of
touchpoints are counted over one row per customer instead of a distinct count over every
event. **Elsewhere** (PostgreSQL, Spark) the window; tests hold both paths identical.

Written here because no library packs event logs for an SQL engine: pm4py (AGPL, pandas in
memory) is the process-mining alternative, and it reads every event into Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cxroi._types import Tables
from cxroi.errors import CxroiError

__all__ = [
    "MASK_BITS",
    "MAX_TOUCHPOINTS",
    "Steps",
    "cached",
    "event_keys",
    "is_duckdb",
    "journey_events",
    "keyed_sequences",
    "sequence",
    "touchpoint_names",
]


def journey_events(tables: Tables) -> Any:
    """The events with a customer, a time and a touchpoint."""
    ev = tables["events"]
    return ev.filter(ev.customer_id.notnull() & ev.ts.notnull() & ev.touchpoint.notnull())


def ibis_builtin_scalar(fn: Any) -> Any:
    """Declare ``fn`` as the DuckDB scalar function of its name, without the underscore."""
    import ibis

    return ibis.udf.scalar.builtin(name=fn.__name__.lstrip("_"))(fn)


@ibis_builtin_scalar
def _epoch_us(ts: datetime) -> int:  # type: ignore[empty-body]
    """DuckDB's ``epoch_us``: microseconds since 1970-01-01, exact (``epoch`` is a float)."""


@ibis_builtin_scalar
def _divide(a: int, b: int) -> int:  # type: ignore[empty-body]
    """DuckDB's ``divide``: integer division (Ibis's ``//`` divides as floats)."""


@dataclass(frozen=True)
class Steps:
    """Each customer's events in time order (:func:`sequence`): ``table`` holds one row per
    customer, ``customer_id`` and ``keys``, the sorted list of the key ``us * m + c`` of each event
    (``us``: its time in microseconds since 1970; ``c``: the index of its touchpoint in
    ``names``; ``m = len(names) + 1``), so sorting the keys orders the events by time, then
    touchpoint; with ``masks``, also ``mask``, bit ``c`` set for every touchpoint the customer
    has an event at."""

    table: Any
    names: tuple[str, ...]

    @property
    def m(self) -> int:
        return len(self.names) + 1

    def code(self, key: Any) -> Any:
        """The touchpoint index of a key (a key before 1970 is negative)."""
        return ((key % self.m) + self.m) % self.m

    def seconds(self, key: Any) -> Any:
        """The event time of a key in seconds since 1970, as ``epoch(ts)`` gives it."""
        return _divide(key - self.code(key), self.m).cast("float64") / 1e6

    def name(self, code: Any) -> Any:
        """The touchpoint of an index."""
        import ibis

        return ibis.literal(list(self.names), type="array<string>")[code]


MAX_TOUCHPOINTS = 999
"""Touchpoints :func:`event_keys` packs with the time (microseconds to year 2262 times
1,000 fit in 64 bits)."""
MASK_BITS = 63
"""Touchpoints a customer's ``mask`` holds: one bit each of a signed 64-bit integer."""


def touchpoint_names(ev: Any) -> tuple[str, ...]:
    """The distinct touchpoints of events ``ev``, sorted (the engine's order: by code point)."""
    got = ev.filter(ev.touchpoint.notnull()).select("touchpoint").distinct().to_pyarrow()
    return tuple(sorted(str(v) for v in got.column(0).to_pylist()))


def event_keys(ev: Any, names: Sequence[str]) -> Any:
    """Events ``ev`` (time and touchpoint not null) with ``_code``, the index of the
    touchpoint in ``names`` (``len(names)`` for another), and ``_key``, the :class:`Steps`
    key of each."""
    if len(names) > MAX_TOUCHPOINTS:
        raise CxroiError(f"journey sequences: at most {MAX_TOUCHPOINTS:,} touchpoints, the "
                         f"events have {len(names):,}")  # fmt: skip
    # a CASE on the name: cheaper than looking it up in a list literal, row by row
    code = ev.touchpoint.cast("string").substitute(
        {n: i for i, n in enumerate(names)}, else_=len(names)
    )
    ev = ev.mutate(_code=code.cast("int64"))
    return ev.mutate(_key=_epoch_us(ev.ts) * (len(names) + 1) + ev._code)


def keyed_sequences(ev: Any, names: Sequence[str], *, masks: bool = False) -> Steps:
    """:class:`Steps` of events ``ev`` (time and touchpoint not null): one grouped pass and a
    sort of each customer's short list, not a window sorting every event by a text id.
    ``masks`` (at most :data:`MASK_BITS` names): each customer's ``mask`` too."""
    import ibis

    if masks and len(names) > MASK_BITS:
        raise CxroiError(f"touchpoint masks hold at most {MASK_BITS} touchpoints, got "
                         f"{len(names)}")  # fmt: skip
    k = event_keys(ev, names)
    aggs = {"_l": k._key.collect()}
    if masks:
        aggs["mask"] = (ibis.literal(1, "int64") << k._code).bit_or()
    g = k.group_by("customer_id").aggregate(**aggs)
    extra = ["mask"] if masks else []
    # no row number per customer: a window over all of them is one serial pass (a second of a
    # million customers' lists), and the text id counts as fast
    g = g.select("customer_id", *extra, keys=g._l.sort())
    return Steps(g, tuple(names))


def sequence(tables: Tables, *, packed: bool | None = None) -> Any:
    """Each customer's events in time order (:func:`journey_events`; module docstring). Read
    by the paths and the directly-follows counts: materialise it once (:func:`cached`) when
    calling both.

    ``packed`` (default: on DuckDB): :class:`Steps`, one sorted list of packed integer keys per
    customer (``epoch_us``, ``divide``, list lambdas: DuckDB only); otherwise one window pass,
    a table of ``customer_id``, ``ts``, ``touchpoint``, ``prev_tp``, ``next_tp``, ``next_ts``
    and ``rn`` (1, 2, …). Both give the same answers."""
    import ibis

    if packed is None:
        packed = is_duckdb(tables["events"])
    if packed:
        # the touchpoints of every event, not only the complete ones: a spare name changes no
        # order
        return keyed_sequences(journey_events(tables), touchpoint_names(tables["events"]))
    ev = journey_events(tables)
    w = ibis.window(group_by="customer_id", order_by=["ts", "touchpoint"])
    return ev.select(
        "customer_id", "ts", "touchpoint",
        prev_tp=ev.touchpoint.lag().over(w), next_tp=ev.touchpoint.lead().over(w),
        next_ts=ev.ts.lead().over(w), rn=ibis.row_number().over(w),
    )  # fmt: skip


def is_duckdb(t: Any) -> bool:
    """Whether table ``t`` lives in DuckDB (where the packed sequences run)."""
    return bool(t._find_backend().name == "duckdb")


def cached(steps: Any) -> Any:
    """:func:`sequence` ``steps`` materialised in the engine."""
    if isinstance(steps, Steps):
        return Steps(steps.table.cache(), steps.names)
    return steps.cache()
