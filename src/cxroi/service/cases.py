"""The closed loop: a poor answer opens a case with an owner and a due date; the owner hears
of it, follows up and closes it.

**Opening.** When answers move from the intake journal into the store
(:mod:`cxroi.service.flush`), each answer that matches any of ``[cases] open_when`` (target
language, :mod:`cxroi.models.initiative`, such as ``csat <= 2``; by default every NPS
detractor) opens one case, keyed
``case-<response_id>``, so moving the same answer twice opens nothing twice and an answer
changed into a detractor opens its case then. The rules run in the engine on the answers
joined to their customers, so a route may name any customer attribute (``plan == 'premium'``)
or any answer column (``touchpoint == 'delivery'``); the first route that matches names the
owner, else ``default_owner``.

**Holdout.** ``[cases] holdout_share`` holds a random share of customers back from follow-up:
their cases open with status ``held_out`` and notify no one, so that ``cxroi roi closed-loop``
can measure what following up is worth. The draw is the keyed hash of
:mod:`cxroi.holdout` on ``("closed-loop", customer_id)``: a customer is held out for every
case or none (one follow-up cannot leak into another answer), and anyone can recompute it.
Anonymous answers (no customer) are drawn on their response id.

**Following up.** ``cxroi cases list|assign|close`` (and the admin API) read and change the
``cases`` table. A held-out case cannot be assigned or closed: following it up would spoil
the measurement.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import numpy as np
import pandas as pd

from cxroi.errors import CxroiError
from cxroi.holdout import holdout_draw
from cxroi.models.initiative import parse_target, target_filter
from cxroi.privacy import RAW_SUFFIX
from cxroi.results import Result, Table
from cxroi.service.settings import CaseSettings
from cxroi.store import Workspace

__all__ = [
    "CASE_PREFIX",
    "check_rules",
    "HOLDOUT_KEY",
    "assign_case",
    "cases_result",
    "close_case",
    "new_cases",
]

CASE_PREFIX = "case-"
SCORES = ("nps", "csat", "ces")
HOLDOUT_KEY = "closed-loop"
LIST_COLUMNS = (
    "case_id",
    "status",
    "owner",
    "opened_at",
    "due_at",
    "closed_at",
    "outcome",
    "response_id",
    "survey",
    "touchpoint",
    "nps",
    "csat",
    "ces",
    "customer_id",
    "comment",
)


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None)


def new_cases(
    ws: Workspace, answers: pd.DataFrame, rules: CaseSettings, *, now: dt.datetime
) -> pd.DataFrame:
    """The cases that ``answers`` open and that do not exist yet.

    Parameters
    ----------
    answers
        Rows of the ``responses`` table just stored (``response_id``, ``customer_id``,
        ``survey``, ``touchpoint`` and the scores).
    rules
        The ``[cases]`` settings.
    now
        Opening time (aware).

    Returns
    -------
    pandas.DataFrame
        Rows of the ``cases`` table (``case_id``, ``response_id``, ``status`` ``open`` or
        ``held_out``, ``opened_at``, ``due_at``, ``owner``).
    """
    cols = ["case_id", "response_id", "status", "opened_at", "due_at", "owner"]
    if answers.empty or not rules.open_when:
        return pd.DataFrame(columns=cols)
    keep = answers
    if rules.surveys:
        keep = keep[keep["survey"].isin(rules.surveys)]
    if keep.empty:
        return pd.DataFrame(columns=cols)
    keep = keep.reset_index(drop=True)
    for col in SCORES:  # a batch without a CSAT answer still has the column, empty
        if col not in keep:
            keep[col] = pd.array([None] * len(keep), dtype="Int64")
    t = ibis.memtable(keep)
    t = t.mutate(case_id=ibis.literal(CASE_PREFIX) + t.response_id)
    t = t.anti_join(ws.table("cases").select("case_id"), "case_id")  # opened before
    customers = ws.table("customers")
    extra = [c for c in customers.columns if c not in t.columns]
    j = t.left_join(customers.select("customer_id", *extra), "customer_id")
    j = j.select(*t.columns, *extra)
    opens = None
    for rule in rules.open_when:
        f = target_filter(j, rule)
        hit = f.fill_null(False) if f is not None else ibis.literal(True)
        opens = hit if opens is None else opens | hit
    assert opens is not None
    routes = {}
    for i, r in enumerate(rules.routes):
        f = target_filter(j, r.when)
        routes[f"_route{i}"] = f.fill_null(False) if f is not None else ibis.literal(True)
    found = j.filter(opens).select("case_id", "response_id", "customer_id", **routes).to_pandas()
    if found.empty:
        return pd.DataFrame(columns=cols)
    who = found["customer_id"].where(found["customer_id"].notna(), found["response_id"])
    held = np.fromiter(
        (holdout_draw(HOLDOUT_KEY, str(c)) < rules.holdout_share for c in who), bool, len(who)
    )
    owner = pd.Series(rules.default_owner, index=found.index, dtype=object)
    for i, r in reversed(list(enumerate(rules.routes))):  # the first route that matches wins
        owner = owner.mask(found[f"_route{i}"].astype(bool), r.owner)
    opened = _naive(now)
    return pd.DataFrame(
        {
            "case_id": found["case_id"].to_numpy(),
            "response_id": found["response_id"].to_numpy(),
            "status": np.where(held, "held_out", "open"),
            "opened_at": opened,
            "due_at": opened + dt.timedelta(days=rules.due_days),
            "owner": owner.to_numpy(),
        }
    )


def check_rules(ws: Workspace, rules: CaseSettings) -> None:
    """Refuse, before the service starts, a rule that names a column neither the answers nor
    the customers have (it would hold every answer back).

    Raises
    ------
    CxroiError
        Naming the rule and the column, and the columns there are.
    """
    have = {"response_id", "customer_id", "survey", "touchpoint", "language", *SCORES,
            *ws.table("responses").columns, *ws.table("customers").columns}  # fmt: skip
    named = [("open_when", w) for w in rules.open_when]
    named += [(f"routes #{i + 1}", r.when) for i, r in enumerate(rules.routes)]
    for where, text in named:
        for clause in parse_target(text):
            if clause.column not in have and not clause.column.startswith("rating_"):
                raise CxroiError(
                    f"cxroi.toml [cases] {where} {text!r}: no column {clause.column!r} in the "
                    f"answers or the customers; they have {', '.join(sorted(have))}"
                )


def _case_list(ws: Workspace, case_ids: list[str] | None = None) -> ibis.Table:
    cases, rs = ws.table("cases"), ws.table("responses")
    if case_ids is not None:
        cases = cases.filter(cases.case_id.isin(case_ids))
    want = [
        c
        for c in ("survey", "touchpoint", "nps", "csat", "ces", "customer_id", "comment")
        if c in rs.columns
    ]
    j = cases.left_join(rs.select("response_id", *want), "response_id")
    if "due_at" not in cases.columns:
        j = j.mutate(due_at=ibis.null("timestamp"))
    return j.select(*[c for c in LIST_COLUMNS if c in j.columns])


def cases_result(
    ws: Workspace,
    *,
    status: str | None = None,
    owner: str | None = None,
    limit: int = 1000,
    now: dt.datetime | None = None,
) -> Result:
    """Cases, newest first, with the answer that opened each; ``overdue`` marks open cases
    past their due date.

    Parameters
    ----------
    status
        Only cases in this status (``open``, ``contacted``, ``resolved``, ``closed``,
        ``held_out``).
    owner
        Only this owner's cases.
    limit
        At most this many rows (1 to 100,000).
    """
    from cxroi.schema import CASE_STATUSES

    if status is not None and status not in CASE_STATUSES:
        raise CxroiError(f"status {status!r}: use one of {', '.join(CASE_STATUSES)}")
    if not 1 <= limit <= 100_000:
        raise CxroiError(f"limit must be from 1 to 100000, got {limit}")
    t = _case_list(ws)
    if status is not None:
        t = t.filter(t.status == status)
    if owner is not None:
        t = t.filter(t.owner == owner)
    counts = ws.table("cases").group_by("status").aggregate(n=ibis._.count()).to_pandas()
    frame = t.order_by([ibis.desc("opened_at"), "case_id"]).limit(limit).to_pandas()
    when = _naive(now or dt.datetime.now(dt.UTC))
    live = frame["status"].isin(["open", "contacted"]) & frame["due_at"].notna()
    frame["overdue"] = live & (pd.to_datetime(frame["due_at"]) < when)
    by = {str(r.status): int(r.n) for r in counts.itertuples()}
    return Result(
        "cases",
        "Close-the-loop cases",
        [Table("cases", "Cases, newest first", frame)],
        params={"by_status": by, "shown": len(frame), "overdue": int(frame["overdue"].sum())},
    )


def _one(ws: Workspace, case_id: str) -> dict[str, Any]:
    cases = ws.raw_table("cases")
    row = cases.filter(cases.case_id == case_id).to_pandas()
    if row.empty:
        raise CxroiError(f"no case {case_id!r}; cxroi cases list shows them")
    rec = row.iloc[0].to_dict()
    return {k: v for k, v in rec.items() if not k.endswith(RAW_SUFFIX)}


def _write(ws: Workspace, rec: dict[str, Any]) -> Result:
    frame = pd.DataFrame([rec])
    for c in ("opened_at", "closed_at", "due_at"):
        if c in frame:
            frame[c] = pd.to_datetime(frame[c])
    ws.ingest("cases", frame, adapter="none")
    return _shown(ws, rec["case_id"])


def _shown(ws: Workspace, case_id: str) -> Result:
    frame = _case_list(ws, [case_id]).to_pandas()
    return Result("cases", f"Case {case_id}", [Table("cases", "Case", frame)])


def assign_case(ws: Workspace, case_id: str, owner: str) -> Result:
    """Give case ``case_id`` to ``owner``.

    Raises
    ------
    CxroiError
        No such case, an empty owner, or a held-out or closed case.
    """
    owner = (owner or "").strip()
    if not owner:
        raise CxroiError("owner: give who follows the case up")
    rec = _one(ws, case_id)
    _followable(rec)
    rec["owner"] = owner
    return _write(ws, rec)


def close_case(
    ws: Workspace,
    case_id: str,
    outcome: str,
    *,
    notes: str | None = None,
    now: dt.datetime | None = None,
) -> Result:
    """Close case ``case_id`` with ``outcome`` (free text, redacted like every note).

    Raises
    ------
    CxroiError
        No such case, an empty outcome, or a held-out or closed case.
    """
    outcome = (outcome or "").strip()
    if not outcome:
        raise CxroiError("outcome: say what was done (for example 'called back, refund sent')")
    rec = _one(ws, case_id)
    _followable(rec)
    rec.update(status="closed", outcome=outcome, closed_at=_naive(now or dt.datetime.now(dt.UTC)))
    if notes is not None:
        rec["notes"] = notes
    return _write(ws, rec)


def _followable(rec: dict[str, Any]) -> None:
    if rec["status"] == "held_out":
        raise CxroiError(
            f"case {rec['case_id']} is held out from follow-up at random ([cases] "
            "holdout_share); following it up would spoil the closed-loop measurement"
        )
    if rec["status"] == "closed":
        raise CxroiError(f"case {rec['case_id']} is closed already")
