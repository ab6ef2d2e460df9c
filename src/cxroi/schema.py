"""The canonical tables: the contract between every module of cxroi.

This module is the one source of truth for table names, column types, keys, required columns
and allowed values. Validation (:mod:`cxroi.ingest`), the store (:mod:`cxroi.store`), the
simulator and the docs all read it; nothing else restates it.

Types are Ibis type strings. Timestamps are stored in UTC (``timestamp``, no zone); money is
a ``float64`` amount in the workspace currency. Columns that a table does not declare are kept
as extra columns (they become segment attributes or driver candidates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "CASE_STATUSES",
    "BEHAVIOURS",
    "MATURITY_LEVELS",
    "SCORE_COLUMNS",
    "TABLES",
    "Column",
    "TableSpec",
    "spec",
]

BEHAVIOURS: tuple[str, ...] = ("churn", "spend", "purchases", "cost_to_serve")
"""What an initiative should move through perception (B of A → C → B)."""

MATURITY_LEVELS: tuple[str, ...] = (
    "efficiency",
    "excellence",
    "product_innovation",
    "experience_innovation",
)
"""CX maturity levels of an initiative, lowest first (see the brief)."""

CASE_STATUSES: tuple[str, ...] = ("open", "contacted", "resolved", "closed", "held_out")
"""Statuses of a close-the-loop case, in the order a case normally moves through them;
``held_out``: the case was drawn into the randomised holdout at opening and is not followed up
(recorded so that following up can be measured against it)."""

BILLING_PERIODS: tuple[str, ...] = ("month", "quarter", "year", "once")

SCORE_COLUMNS: tuple[str, ...] = ("nps", "csat", "ces")
"""Survey scores; a response needs at least one of them (or an attribute rating)."""


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    Parameters
    ----------
    name
        Column name.
    dtype
        Ibis type string: ``string``, ``int64``, ``float64``, ``date`` or ``timestamp``.
    required
        The column must be present in the input and non-null in every row.
    min, max
        Inclusive numeric bounds; values outside are rejected, never clipped.
    allowed
        The closed set of allowed values for a categorical column.
    integer
        The value must be a whole number (scores given as ``9.0`` are accepted, ``9.5`` not).
    """

    name: str
    dtype: str
    required: bool = False
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None
    integer: bool = False
    description: str = ""


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: its key, its declared columns and its row-level rules."""

    name: str
    key: str
    columns: tuple[Column, ...]
    description: str = ""
    # Pairs (earlier, later) of timestamp/date columns: ``later`` may not precede ``earlier``.
    ordered: tuple[tuple[str, str], ...] = ()
    # Groups of columns of which at least one must be non-null in every row.
    one_of: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    # Columns whose name starts with this prefix are typed numeric (attribute ratings).
    numeric_prefix: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no declared column {name!r}")

    def dtypes(self) -> dict[str, str]:
        return {c.name: c.dtype for c in self.columns}


def _c(name: str, dtype: str = "string", **kw: object) -> Column:
    return Column(name, dtype, **kw)  # type: ignore[arg-type]


TABLES: Mapping[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            "customers",
            key="customer_id",
            description="One row per customer; any extra column is a segment attribute.",
            columns=(
                _c("customer_id", required=True),
                _c("signup_date", "date"),
                _c("plan"),
                _c("region"),
                _c("age", "int64", min=0, max=120, integer=True),
                _c("occupation"),
                _c("channel"),
            ),
        ),
        TableSpec(
            "transactions",
            key="transaction_id",
            description="Purchases; a negative amount is a refund.",
            columns=(
                _c("transaction_id", required=True),
                _c("customer_id", required=True),
                _c("ts", "timestamp", required=True),
                _c("amount", "float64", required=True),
                _c("product"),
                _c("channel"),
                _c("quantity", "int64", min=0, integer=True),
            ),
        ),
        TableSpec(
            "contracts",
            key="contract_id",
            description="Subscriptions; a null end_date means the contract is active.",
            columns=(
                _c("contract_id", required=True),
                _c("customer_id", required=True),
                _c("start_date", "date", required=True),
                _c("value", "float64", required=True, min=0),
                _c("end_date", "date"),
                _c("plan"),
                _c("billing_period", allowed=BILLING_PERIODS),
            ),
            ordered=(("start_date", "end_date"),),
        ),
        TableSpec(
            "responses",
            key="response_id",
            description="Survey answers: NPS 0-10, CSAT 1-5, CES 1-7, rating_* attribute ratings.",
            columns=(
                _c("response_id", required=True),
                _c("ts", "timestamp", required=True),
                _c("customer_id"),
                _c("survey"),
                _c("touchpoint"),
                _c("nps", "int64", min=0, max=10, integer=True),
                _c("csat", "int64", min=1, max=5, integer=True),
                _c("ces", "int64", min=1, max=7, integer=True),
                _c("comment"),
            ),
            one_of=(("nps", "csat", "ces", "rating_*"),),
            numeric_prefix="rating_",
        ),
        TableSpec(
            "tickets",
            key="ticket_id",
            description="Support tickets: response and resolution times, channel, cost.",
            columns=(
                _c("ticket_id", required=True),
                _c("customer_id", required=True),
                _c("opened_at", "timestamp", required=True),
                _c("first_response_at", "timestamp"),
                _c("resolved_at", "timestamp"),
                _c("channel"),
                _c("cost", "float64", min=0),
                _c("csat", "int64", min=1, max=5, integer=True),
                _c("category"),
            ),
            ordered=(("opened_at", "first_response_at"), ("opened_at", "resolved_at")),
        ),
        TableSpec(
            "events",
            key="event_id",
            description="Journey events: a customer at a touchpoint.",
            columns=(
                _c("event_id", required=True),
                _c("customer_id", required=True),
                _c("ts", "timestamp", required=True),
                _c("touchpoint", required=True),
                _c("stage"),
                _c("outcome"),
                _c("channel"),
            ),
        ),
        TableSpec(
            "initiatives",
            key="initiative_id",
            description="CX initiatives with cost, maturity level, target group and launch date.",
            columns=(
                _c("initiative_id", required=True),
                _c("name", required=True),
                _c("level", required=True, allowed=MATURITY_LEVELS),
                _c("start_date", "date", required=True),
                _c("cost", "float64", required=True, min=0),
                _c("end_date", "date"),
                _c("target"),
                _c("touchpoint"),
                _c("owner"),
                _c("expected_effect", "float64"),
                _c("running_cost", "float64", min=0),
                _c("metric"),
                _c("behaviour", allowed=BEHAVIOURS),
                _c("holdout_share", "float64", min=0, max=0.9),
            ),
            ordered=(("start_date", "end_date"),),
        ),
        TableSpec(
            "cases",
            key="case_id",
            description="Close-the-loop cases opened on survey responses.",
            columns=(
                _c("case_id", required=True),
                _c("response_id", required=True),
                _c("status", required=True, allowed=CASE_STATUSES),
                _c("opened_at", "timestamp", required=True),
                _c("owner"),
                _c("closed_at", "timestamp"),
                _c("outcome"),
                _c("notes"),
                _c("due_at", "timestamp"),
            ),
            ordered=(("opened_at", "closed_at"),),
        ),
        TableSpec(
            "invitations",
            key="invitation_id",
            description="Survey invitations (cxroi invite): who was asked, when, until when.",
            columns=(
                _c("invitation_id", required=True),
                _c("customer_id", required=True),
                _c("survey", required=True),
                _c("invited_at", "timestamp", required=True),
                _c("expires_at", "timestamp", required=True),
                _c("reminded_at", "timestamp"),
            ),
            ordered=(("invited_at", "expires_at"), ("invited_at", "reminded_at")),
        ),
    )
}
"""The nine canonical tables, by name."""


def spec(name: str) -> TableSpec:
    """Return the spec of canonical table ``name``; an unknown name raises a ``CxroiError``."""
    from cxroi.errors import CxroiError

    try:
        return TABLES[name]
    except KeyError:
        raise CxroiError(
            f"unknown table {name!r}; the canonical tables are: {', '.join(TABLES)}"
        ) from None
