"""An initiative's target group: a small filter language over customer attributes.

A target is written the way analysts write it, and the simulator records it::

    plan == 'premium'
    region = north and age >= 30
    plan in ('basic', 'standard'), channel != 'store'

Clauses are joined by ``and`` or a comma; each is ``COLUMN OP VALUE`` with ``==`` (or ``=``),
``!=``, ``<``, ``<=``, ``>``, ``>=`` or ``in (V, …)``; values are quoted strings, bare words or
numbers. An empty target means every customer. The filter is parsed here, never evaluated as
Python, and compiled to an Ibis expression, so it runs in the engine.

The grammar is written by hand because it is six rules long; a general expression parser
would accept far more than a target needs (and than is safe to run).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir

from cxroi.errors import CxroiError, param

__all__ = ["Clause", "parse_target", "target_filter"]

_CLAUSE = re.compile(
    r"^\s*(?P<col>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>==|=|!=|<=|>=|<|>|\bin\b)\s*(?P<val>.+?)\s*$",
    re.IGNORECASE,
)
_SPLIT = re.compile(r"\s+and\s+|\s*[,;]\s*(?![^(\[]*[)\]])", re.IGNORECASE)


_OPS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class Clause:
    """One condition of a target: ``column op value`` (``values`` for ``in``)."""

    column: str
    op: str
    values: tuple[Any, ...]


def _value(text: str) -> Any:
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def parse_target(text: str | None) -> list[Clause]:
    """The clauses of a target (empty for every customer).

    >>> plan, age = parse_target("plan == 'premium' and age >= 30")
    >>> plan.column, plan.op, plan.values
    ('plan', '==', ('premium',))
    >>> age.values
    (30,)
    """
    if text is None or not text.strip():
        return []
    clauses = []
    for part in _SPLIT.split(text.strip()):
        m = _CLAUSE.match(part)
        if not m:
            raise CxroiError(
                f"{param('target')} {text!r}: cannot read {part!r}; write e.g. "
                "\"plan == 'premium' and region == 'north'\" or \"plan in ('basic', 'standard')\""
            )
        op = m["op"].lower()
        raw = m["val"]
        if op == "in":
            inner = raw.strip()
            if not (inner[:1] in "([" and inner[-1:] in ")]"):
                raise CxroiError(f"{param('target')} {text!r}: 'in' needs a list, e.g. ('a', 'b')")
            values = tuple(_value(v) for v in inner[1:-1].split(",") if v.strip())
        else:
            values = (_value(raw),)
        clauses.append(Clause(m["col"], "==" if op == "=" else op, values))
    return clauses


def target_filter(customers: ir.Table, text: str | None) -> ir.BooleanValue | None:
    """The target as an Ibis predicate on ``customers`` (``None``: every customer).

    Raises
    ------
    CxroiError
        For a column the customers do not have, or a comparison that does not fit its type.
    """
    clauses = parse_target(text)
    if not clauses:
        return None
    pred = None
    for c in clauses:
        if c.column not in customers.columns:
            raise CxroiError(
                f"{param('target')} {text!r}: customers have no column {c.column!r}; they have "
                f"{', '.join(x for x in customers.columns if x != 'customer_id')}"
            )
        col = customers[c.column]
        numeric = col.type().is_numeric()
        if numeric and not all(isinstance(v, int | float) for v in c.values):
            raise CxroiError(
                f"{param('target')} {text!r}: {c.column} is numeric; compare it to a number"
            )
        vals = c.values if numeric else tuple(str(v) for v in c.values)
        if not numeric and c.op in ("<", "<=", ">", ">="):
            raise CxroiError(f"{param('target')} {text!r}: {c.column} is text; use ==, != or in")
        expr = col.isin(list(vals)) if c.op == "in" else _OPS[c.op](col, vals[0])
        pred = expr if pred is None else pred & expr
    return pred
