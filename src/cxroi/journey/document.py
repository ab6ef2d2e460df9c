"""``journey.yaml``: the customer journey map and its service blueprint, as one document.

Stages hold touchpoints; each touchpoint has its channel and owner, the blueprint's lanes
(customer action, frontstage, backstage steps, support processes and systems) and what measures
it in the data::

    version: 1
    stages:
      - id: purchase
        name: Purchase
        touchpoints:
          - id: delivery
            name: Delivery
            channel: web
            owner: logistics
            customer_action: Receives the parcel
            frontstage: Tracking page and courier at the door
            backstage:
              - step: Order packed
                event: order_packed        # events.touchpoint of the backstage step
              - step: Carrier handover
                event: carrier_handover
            support: [warehouse system, carrier API]
            measured_by:
              events: [delivery]           # events.touchpoint values (default: the id)
              surveys: [delivery]          # responses.touchpoint values (default: the id)
              tickets: {category: [delivery]}   # tickets.category or .channel values

:func:`parse` reads it into :class:`Journey` and refuses a malformed document with one line
naming the place (``stages[1].touchpoints[0].id``); :func:`check` compares a journey with the
data and lists every problem. YAML is read with PyYAML's ``safe_load`` (no object tags), and
the schema is checked here, by hand, because its errors must name the journey's own terms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cxroi.errors import CxroiError

__all__ = [
    "JOURNEY_FILE",
    "BackstageStep",
    "Journey",
    "Stage",
    "Touchpoint",
    "dump",
    "load",
    "parse",
]

JOURNEY_FILE = "journey.yaml"
VERSION = 1
TICKET_FIELDS = ("category", "channel")

_STAGE_KEYS = {"id", "name", "touchpoints"}
_TOUCHPOINT_KEYS = {
    "id", "name", "channel", "owner", "customer_action", "frontstage", "backstage", "support",
    "measured_by",
}  # fmt: skip
_MEASURE_KEYS = {"events", "surveys", "tickets"}


@dataclass(frozen=True)
class BackstageStep:
    """A step behind the line of visibility, measured by an event type when one is named."""

    step: str
    event: str | None = None


@dataclass(frozen=True)
class Touchpoint:
    """A touchpoint of a stage, its blueprint lanes and what measures it."""

    id: str
    name: str
    stage: str
    channel: str | None = None
    owner: str | None = None
    customer_action: str | None = None
    frontstage: str | None = None
    backstage: tuple[BackstageStep, ...] = ()
    support: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    surveys: tuple[str, ...] = ()
    tickets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    explicit: frozenset[str] = frozenset()
    """The ``measured_by`` keys the document gives (the others are defaults)."""


@dataclass(frozen=True)
class Stage:
    """A stage of the journey, its touchpoints in order."""

    id: str
    name: str
    touchpoints: tuple[Touchpoint, ...]


@dataclass(frozen=True)
class Journey:
    """The journey: its stages in order."""

    stages: tuple[Stage, ...]

    @property
    def touchpoints(self) -> list[Touchpoint]:
        """Every touchpoint, stage by stage."""
        return [t for s in self.stages for t in s.touchpoints]

    def touchpoint(self, tid: str) -> Touchpoint:
        """The touchpoint ``tid``."""
        for t in self.touchpoints:
            if t.id == tid:
                return t
        known = ", ".join(t.id for t in self.touchpoints)
        raise CxroiError(f"{JOURNEY_FILE}: no touchpoint {tid!r}; the map has {known}")


class _Reader:
    """Typed access to the parsed YAML, with errors that name the place."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, what: str) -> CxroiError:
        return CxroiError(f"{self.source}: {where}: {what}")

    def mapping(self, v: Any, where: str, keys: set[str]) -> Mapping[str, Any]:
        if not isinstance(v, Mapping):
            raise self.fail(where, f"expected a mapping, got {_kind(v)}")
        unknown = sorted(str(k) for k in v if k not in keys)
        if unknown:
            raise self.fail(where, f"unknown key(s) {', '.join(unknown)}; known: "
                            f"{', '.join(sorted(keys))}")  # fmt: skip
        return v

    def text(self, v: Any, where: str, *, required: bool = False) -> str | None:
        if v is None:
            if required:
                raise self.fail(where, "is required")
            return None
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise self.fail(where, f"expected text, got {_kind(v)}")
        s = str(v).strip()
        if required and not s:
            raise self.fail(where, "is empty")
        return s or None

    def texts(self, v: Any, where: str) -> tuple[str, ...]:
        if v is None:
            return ()
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, Sequence):
            raise self.fail(where, f"expected a list, got {_kind(v)}")
        return tuple(str(self.text(x, f"{where}[{i}]", required=True)) for i, x in enumerate(v))

    def items(self, v: Any, where: str) -> list[Any]:
        if v is None:
            return []
        if isinstance(v, str) or not isinstance(v, Sequence):
            raise self.fail(where, f"expected a list, got {_kind(v)}")
        return list(v)


def _kind(v: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(
        type(v), type(v).__name__
    )


def parse(text: str, *, source: str = JOURNEY_FILE) -> Journey:
    """The journey of a ``journey.yaml`` text.

    Raises
    ------
    CxroiError
        One line naming ``source``, the place (``stages[1].touchpoints[0].id``, or the YAML
        line) and what is wrong: not YAML, an unknown key, a missing or duplicate id, a wrong
        type.
    """
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "YAML"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise CxroiError(f"{source}: {at}: not valid YAML: {problem}") from None
    r = _Reader(source)
    doc = r.mapping(doc if doc is not None else {}, "the document", {"version", "stages"})
    version = doc.get("version", VERSION)
    if version != VERSION:
        raise r.fail("version", f"cxroi reads version {VERSION}, got {version!r}")
    stages_raw = r.items(doc.get("stages"), "stages")
    if not stages_raw:
        raise r.fail("stages", "the journey has no stage")
    seen: dict[str, dict[str, str]] = {"stage": {}, "touchpoint": {}}

    def unique(kind: str, tid: str, where: str) -> None:
        if tid in seen[kind]:
            raise r.fail(where, f"duplicate {kind} id {tid!r} (also at {seen[kind][tid]})")
        seen[kind][tid] = where

    stages = []
    for i, s in enumerate(stages_raw):
        at = f"stages[{i}]"
        s = r.mapping(s, at, _STAGE_KEYS)
        sid = str(r.text(s.get("id"), f"{at}.id", required=True))
        unique("stage", sid, f"{at}.id")
        tps = []
        for j, t in enumerate(r.items(s.get("touchpoints"), f"{at}.touchpoints")):
            tps.append(_touchpoint(r, t, f"{at}.touchpoints[{j}]", sid, unique))
        stages.append(Stage(sid, r.text(s.get("name"), f"{at}.name") or sid, tuple(tps)))
    return Journey(tuple(stages))


def _touchpoint(r: _Reader, t: Any, at: str, stage: str, unique: Any) -> Touchpoint:
    t = r.mapping(t, at, _TOUCHPOINT_KEYS)
    tid = str(r.text(t.get("id"), f"{at}.id", required=True))
    unique("touchpoint", tid, f"{at}.id")
    steps = []
    for k, b in enumerate(r.items(t.get("backstage"), f"{at}.backstage")):
        where = f"{at}.backstage[{k}]"
        if isinstance(b, str):
            steps.append(BackstageStep(b))
            continue
        b = r.mapping(b, where, {"step", "event"})
        steps.append(BackstageStep(str(r.text(b.get("step"), f"{where}.step", required=True)),
                                   r.text(b.get("event"), f"{where}.event")))  # fmt: skip
    m = r.mapping(t.get("measured_by") or {}, f"{at}.measured_by", _MEASURE_KEYS)
    tickets_raw = r.mapping(m.get("tickets") or {}, f"{at}.measured_by.tickets",
                            set(TICKET_FIELDS))  # fmt: skip
    tickets = {k: r.texts(v, f"{at}.measured_by.tickets.{k}") for k, v in tickets_raw.items()}
    events = r.texts(m["events"], f"{at}.measured_by.events") if "events" in m else (tid,)
    surveys = r.texts(m["surveys"], f"{at}.measured_by.surveys") if "surveys" in m else (tid,)
    return Touchpoint(
        id=tid,
        name=r.text(t.get("name"), f"{at}.name") or tid,
        stage=stage,
        channel=r.text(t.get("channel"), f"{at}.channel"),
        owner=r.text(t.get("owner"), f"{at}.owner"),
        customer_action=r.text(t.get("customer_action"), f"{at}.customer_action"),
        frontstage=r.text(t.get("frontstage"), f"{at}.frontstage"),
        backstage=tuple(steps),
        support=r.texts(t.get("support"), f"{at}.support"),
        events=events,
        surveys=surveys,
        tickets={k: v for k, v in tickets.items() if v},
        explicit=frozenset(str(k) for k in m),
    )


def load(path: str | Path) -> Journey:
    """The journey of the file ``path``.

    Raises
    ------
    CxroiError
        Without the file (and how to make one), or as :func:`parse`.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CxroiError(
            f"{p}: no journey map; propose one from the data with `cxroi journey init`"
        ) from None
    except UnicodeDecodeError as e:
        raise CxroiError(f"{p}: not UTF-8 text (byte {e.start})") from None
    return parse(text, source=str(p.name))


def dump(journey: Journey) -> str:
    """The YAML text of ``journey`` (what :func:`parse` reads back)."""
    import yaml

    stages = []
    for s in journey.stages:
        tps = []
        for t in s.touchpoints:
            d: dict[str, Any] = {"id": t.id, "name": t.name}
            for k in ("channel", "owner", "customer_action", "frontstage"):
                d[k] = getattr(t, k)
            d["backstage"] = [
                {"step": b.step, **({"event": b.event} if b.event else {})} for b in t.backstage
            ]
            d["support"] = list(t.support)
            measured: dict[str, Any] = {"events": list(t.events), "surveys": list(t.surveys)}
            if t.tickets:
                measured["tickets"] = {k: list(v) for k, v in t.tickets.items()}
            d["measured_by"] = measured
            tps.append(d)
        stages.append({"id": s.id, "name": s.name, "touchpoints": tps})
    body = yaml.safe_dump({"version": VERSION, "stages": stages}, sort_keys=False,
                          allow_unicode=True, width=100)  # fmt: skip
    return (
        "# cxroi journey map and service blueprint: stages, touchpoints and their lanes.\n"
        "# Edit the names and lanes; `cxroi journey check` validates it against the data.\n" + body
    )
