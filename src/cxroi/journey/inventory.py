"""What the data say about the journey: the touchpoints found, a proposed map, and the
problems of a map against the data.

The inventory is a few ``GROUP BY`` queries in the engine (event touchpoints with their stage
and most used channel, survey touchpoints, ticket categories and channels); only those small
summaries reach Python. Event types whose most used channel is ``backstage``
(:data:`BACKSTAGE_CHANNEL`) are steps behind the line of visibility, not touchpoints: the
proposal makes each a backstage step of the touchpoint its events lead to.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from cxroi._types import Tables
from cxroi.errors import CxroiError
from cxroi.journey.document import BackstageStep, Journey, Stage, Touchpoint

__all__ = ["BACKSTAGE_CHANNEL", "Inventory", "check", "inventory", "propose"]

BACKSTAGE_CHANNEL = "backstage"
"""The event channel of backstage steps (what the customer does not see)."""

NO_STAGE = "unstaged"
"""The stage of proposed touchpoints whose events name none."""


@dataclass(frozen=True)
class Inventory:
    """Touchpoints in the data, with their volumes.

    ``events``: ``touchpoint``, ``stage`` (the most frequent), ``channel`` (the most used),
    ``events``, ``reached_days`` and ``stage_reached_days`` (the median over customers of the
    days from their first event to their first at the touchpoint or its stage), in the order
    customers reach them; ``surveys``: ``touchpoint``, ``responses``; ``tickets``:
    ``field`` (category or channel), ``value``, ``tickets``; ``leads_to``: for each backstage
    event type, the touchpoint its events lead to (through other backstage steps) and the
    number of steps on the way.
    """

    events: pd.DataFrame
    surveys: pd.DataFrame
    tickets: pd.DataFrame
    leads_to: dict[str, tuple[str, int]] = field(default_factory=dict)


def _top(t: Any, key: str, col: str) -> dict[str, str]:
    """The most frequent ``col`` per ``key`` (ties: the first by name)."""
    f = t.filter(t[col].notnull())
    g = f.group_by([key, col]).aggregate(n=f.count()).to_pandas()
    if g.empty:
        return {}
    g = g.sort_values([key, "n", col], ascending=[True, False, True])
    return dict(g.drop_duplicates(key).set_index(key)[col].astype(str))


def _reached(ev: Any, key: str) -> pd.DataFrame:
    """Per value of ``key``: the median over customers of the days from a customer's first
    event to their first event at it (when in a customer's life it is reached)."""
    import ibis

    e = ev.mutate(_t0=ev.ts.min().over(ibis.window(group_by="customer_id")))
    e = e.filter(e[key].notnull())
    first = e.group_by(["customer_id", key]).aggregate(
        d=(e.ts.min().epoch_seconds() - e._t0.min().epoch_seconds()) / 86400.0
    )
    out = first.group_by(key).aggregate(reached_days=first.d.median()).to_pandas()
    return out.set_index(key)["reached_days"]


def _leads_to(ev: Any, backstage: set[str]) -> dict[str, tuple[str, int]]:
    """Per backstage event type: the first touchpoint its events lead to, following the most
    frequent next event of the same customer through backstage steps."""
    import ibis

    w = ibis.window(group_by="customer_id", order_by=["ts", "touchpoint"])
    e = ev.mutate(nxt=ev.touchpoint.lead().over(w))
    e = e.filter(e.touchpoint.isin(sorted(backstage)) & e.nxt.notnull())
    g = e.group_by(["touchpoint", "nxt"]).aggregate(n=e.count()).to_pandas()
    g = g.sort_values(["touchpoint", "n", "nxt"], ascending=[True, False, True])
    top = dict(g.drop_duplicates("touchpoint").set_index("touchpoint")["nxt"].astype(str))
    out: dict[str, tuple[str, int]] = {}
    for b in backstage:
        seen, cur = [b], top.get(b)
        while cur is not None and cur in backstage and cur not in seen:
            seen.append(cur)
            cur = top.get(cur)
        if cur is not None and cur not in backstage:
            out[b] = (cur, len(seen))
    return out


def inventory(tables: Tables) -> Inventory:
    """Event touchpoints, survey touchpoints and ticket categories and channels in the data."""
    ev = tables["events"]
    e = ev.group_by("touchpoint").aggregate(events=ev.count()).to_pandas()
    stage, channel = _top(ev, "touchpoint", "stage"), _top(ev, "touchpoint", "channel")
    e["stage"] = e["touchpoint"].map(stage)
    e["channel"] = e["touchpoint"].map(channel)
    e["reached_days"] = e["touchpoint"].map(_reached(ev, "touchpoint"))
    e["stage_reached_days"] = e["stage"].map(_reached(ev, "stage"))
    e = e.sort_values(["stage_reached_days", "reached_days", "touchpoint"], na_position="last")
    e = e.reset_index(drop=True)
    rs = tables["responses"]
    rs = rs.filter(rs.touchpoint.notnull())
    s = rs.group_by("touchpoint").aggregate(responses=rs.count()).order_by("touchpoint")
    tk = tables["tickets"]
    parts = []
    for f in ("category", "channel"):
        k = tk.filter(tk[f].notnull())
        q = k.group_by(f).aggregate(tickets=k.count()).to_pandas()
        parts.append(q.rename(columns={f: "value"}).assign(field=f))
    tickets = pd.concat(parts, ignore_index=True)[["field", "value", "tickets"]]
    backstage = set(e.loc[e["channel"] == BACKSTAGE_CHANNEL, "touchpoint"].astype(str))
    leads = _leads_to(ev, backstage) if backstage else {}
    return Inventory(e, s.to_pandas(), tickets, leads)


def propose(inv: Inventory) -> Journey:
    """A journey from the data: the stages, and the touchpoints within each, in the order a
    typical customer first reaches them; each event touchpoint under its most frequent stage;
    survey touchpoints measured where an event touchpoint of that name exists (a survey-only
    touchpoint joins the last stage); a support touchpoint named after a ticket channel
    (``support_chat``) measured by its tickets; a backstage event type (channel
    ``backstage``) a backstage step of the touchpoint it leads to, in the order they happen
    (one that leads nowhere is a touchpoint of its own).

    Raises
    ------
    CxroiError
        Without an event or survey touchpoint in the data.
    """
    if inv.events.empty and inv.surveys.empty:
        raise CxroiError(
            "no touchpoints in the data: ingest events (touchpoint, stage) or responses with a "
            "touchpoint first"
        )
    surveys = set(inv.surveys["touchpoint"].astype(str))
    channels = set(inv.tickets.loc[inv.tickets["field"] == "channel", "value"].astype(str))
    order: dict[str, list[Touchpoint]] = {}
    steps: dict[str, list[tuple[int, str]]] = {}
    for b, (front, k) in inv.leads_to.items():
        steps.setdefault(front, []).append((-k, b))
    for r in inv.events.itertuples(index=False):
        tp, st = str(r.touchpoint), str(r.stage) if pd.notna(r.stage) else NO_STAGE
        if tp in inv.leads_to:
            continue
        t = _proposed(tp, st, r.channel, surveys)
        # a support touchpoint named after a ticket channel (support_chat) counts its tickets
        words = set(tp.lower().split("_"))
        match = sorted(words & channels) if "support" in {st.lower(), *words} else []
        if len(match) == 1:
            t = replace(t, tickets={"channel": (match[0],)},
                        explicit=t.explicit | {"tickets"})  # fmt: skip
        if tp in steps:
            t = replace(t, backstage=tuple(
                BackstageStep(b.replace("_", " ").capitalize(), b) for _, b in sorted(steps[tp])
            ))  # fmt: skip
        order.setdefault(st, []).append(t)
    known = {str(t) for t in inv.events["touchpoint"]}
    last = next(reversed(order)) if order else NO_STAGE
    for tp in sorted(surveys - known):
        order.setdefault(last, []).append(_proposed(tp, last, None, surveys, events=False))
    stages = [Stage(s, s.replace("_", " ").capitalize(), tuple(t)) for s, t in order.items()]
    return Journey(tuple(stages))


def _proposed(
    tp: str, stage: str, channel: Any, surveys: set[str], *, events: bool = True
) -> Touchpoint:
    return Touchpoint(
        id=tp,
        name=tp.replace("_", " ").capitalize(),
        stage=stage,
        channel=str(channel) if channel is not None and pd.notna(channel) else None,
        events=(tp,) if events else (),
        surveys=(tp,) if tp in surveys else (),
        explicit=frozenset({"events", "surveys"}),
    )


def check(journey: Journey, inv: Inventory) -> list[str]:
    """Every problem of ``journey`` against the data, one line each (empty: it holds).

    - a stage with no touchpoint;
    - an unknown touchpoint: an event, survey touchpoint, backstage event or ticket value the
      map names and the data do not hold (or a touchpoint whose defaults match nothing);
    - a touchpoint of the data (events or surveys) that no touchpoint of the map measures.
    """
    events = set(inv.events["touchpoint"].astype(str))
    surveys = set(inv.surveys["touchpoint"].astype(str))
    tickets = {f: set(g["value"].astype(str)) for f, g in inv.tickets.groupby("field")}
    out: list[str] = []
    for s in journey.stages:
        if not s.touchpoints:
            out.append(f"stage {s.id!r} has no touchpoint")
    for t in journey.touchpoints:
        ev_unknown = [e for e in t.events if e not in events]
        sv_unknown = [e for e in t.surveys if e not in surveys]
        if "events" in t.explicit:
            out += [f"touchpoint {t.id!r}: unknown event touchpoint {e!r}" for e in ev_unknown]
        if "surveys" in t.explicit:
            out += [f"touchpoint {t.id!r}: unknown survey touchpoint {e!r}" for e in sv_unknown]
        if not ({"events", "surveys"} & t.explicit) and ev_unknown and sv_unknown:
            out.append(f"touchpoint {t.id!r}: unknown touchpoint: no event or survey in the "
                       "data has it; name what measures it under measured_by")  # fmt: skip
        for b in t.backstage:
            if b.event and b.event not in events:
                out.append(f"touchpoint {t.id!r}: backstage step {b.step!r}: unknown event "
                           f"{b.event!r}")  # fmt: skip
        for f, values in t.tickets.items():
            for v in values:
                if v not in tickets.get(f, set()):
                    out.append(f"touchpoint {t.id!r}: no ticket has {f} {v!r}")
    mapped_ev = {e for t in journey.touchpoints for e in t.events}
    mapped_ev |= {b.event for t in journey.touchpoints for b in t.backstage if b.event}
    mapped_sv = {e for t in journey.touchpoints for e in t.surveys}
    counts = dict(zip(inv.events["touchpoint"].astype(str), inv.events["events"], strict=True))
    for e in sorted(events - mapped_ev):
        out.append(f"the data's touchpoint {e!r} ({int(counts[e]):,} events) is missing from "
                   "the map")  # fmt: skip
    answers = dict(zip(inv.surveys["touchpoint"].astype(str), inv.surveys["responses"],
                       strict=True))  # fmt: skip
    for e in sorted(surveys - mapped_sv):
        out.append(f"the data's survey touchpoint {e!r} ({int(answers[e]):,} responses) is "
                   "missing from the map")  # fmt: skip
    return out
