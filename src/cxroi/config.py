"""Workspace settings, read once from ``cxroi.toml``.

``cxroi.toml`` holds the engine URL, currency, time zone, discount rate, thresholds and
benchmark bands. Unknown keys are kept (other modules read their own sections, e.g.
``[themes]``) but an unknown key in ``[workspace]`` is an error, so typos do not pass silently.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cxroi.errors import WorkspaceError

__all__ = ["CONFIG_FILE", "Settings", "load_settings", "write_settings"]

CONFIG_FILE = "cxroi.toml"


def _default_bands() -> dict[str, list[float]]:
    # From the brief: NPS leaders such as Amazon and Costco run at 50-80, average firms 5-10.
    return {"leaders": [50.0, 80.0], "average": [5.0, 10.0]}


@dataclass(frozen=True)
class Settings:
    """The ``[workspace]`` section of ``cxroi.toml``.

    Parameters
    ----------
    engine
        Ibis connection URL; ``None`` means the embedded DuckDB file ``cx.duckdb``.
    currency
        ISO 4217 code for every money column.
    timezone
        IANA zone in which naive timestamps in input files are read (stored as UTC).
    discount_rate
        Annual discount rate for lifetime values.
    min_n
        Groups with fewer observations are flagged ``small-n``.
    date_min
        The earliest plausible date in an input (default 1970-01-01); earlier dates are
        refused at ingest unless allowed.
    date_years_ahead
        Dates more than this many years after today are refused at ingest unless allowed.
    lock_timeout
        Seconds a command waits for another one that holds the workspace store.
    nps_benchmarks
        Named NPS bands shown beside the value.
    """

    engine: str | None = None
    currency: str = "USD"
    timezone: str = "UTC"
    discount_rate: float = 0.10
    min_n: int = 30
    date_min: dt.date = dt.date(1970, 1, 1)
    date_years_ahead: int = 1
    lock_timeout: float = 30.0
    nps_benchmarks: dict[str, list[float]] = field(default_factory=_default_bands)
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._check_types()
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise WorkspaceError(f"{CONFIG_FILE}: unknown timezone {self.timezone!r}") from None
        if not 0 <= self.discount_rate < 1:
            raise WorkspaceError(
                f"{CONFIG_FILE}: discount_rate must be in [0, 1), got {self.discount_rate}"
            )
        if self.min_n < 1:
            raise WorkspaceError(f"{CONFIG_FILE}: min_n must be at least 1, got {self.min_n}")

    def _check_types(self) -> None:
        """Refuse a value of the wrong type, naming the key (TOML has no schema of its own)."""
        want: dict[str, tuple[type, ...]] = {
            "engine": (str, type(None)),
            "currency": (str,),
            "timezone": (str,),
            "discount_rate": (int, float),
            "min_n": (int,),
            "date_min": (dt.date, str),
            "date_years_ahead": (int,),
            "lock_timeout": (int, float),
            "nps_benchmarks": (dict,),
        }
        for key, types in want.items():
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, types):
                kinds = " or ".join(t.__name__ for t in types if t is not type(None))
                raise WorkspaceError(
                    f"{CONFIG_FILE}: {key} must be {kinds}, got {type(v).__name__} {v!r}"
                )
        if isinstance(self.date_min, str):
            try:
                object.__setattr__(self, "date_min", dt.date.fromisoformat(self.date_min))
            except ValueError:
                raise WorkspaceError(
                    f"{CONFIG_FILE}: date_min {self.date_min!r} is not a date (YYYY-MM-DD)"
                ) from None
        if isinstance(self.date_min, dt.datetime):
            object.__setattr__(self, "date_min", self.date_min.date())
        for name, band in self.nps_benchmarks.items():
            ok = isinstance(band, list | tuple) and len(band) == 2
            if not ok or not all(isinstance(x, int | float) for x in band):
                raise WorkspaceError(
                    f"{CONFIG_FILE}: nps_benchmarks.{name} must be [low, high], got {band!r}"
                )
        if self.date_years_ahead < 0 or self.lock_timeout < 0:
            raise WorkspaceError(f"{CONFIG_FILE}: date_years_ahead and lock_timeout must be >= 0")

    def section(self, name: str) -> dict[str, Any]:
        """Return another top-level section of ``cxroi.toml`` (e.g. ``themes``), or ``{}``."""
        return dict(self.extra.get(name, {}))


def load_settings(folder: Path) -> Settings:
    """Read ``folder/cxroi.toml``; raise :class:`WorkspaceError` naming the bad key."""
    path = folder / CONFIG_FILE
    if not path.exists():
        raise WorkspaceError(
            f"{folder} is not a cxroi workspace (no {CONFIG_FILE}); run `cxroi init`"
        )
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise WorkspaceError(f"{path}: {e}") from None
    ws = dict(doc.pop("workspace", {}))
    known = {f.name for f in fields(Settings)} - {"extra"}
    unknown = set(ws) - known
    if unknown:
        raise WorkspaceError(
            f"{path}: unknown key(s) in [workspace]: {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(known))}"
        )
    try:
        return Settings(**ws, extra=doc)
    except TypeError as e:
        raise WorkspaceError(f"{path}: {e}") from None


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def write_settings(folder: Path, settings: Settings, *, service_secret: str | None = None) -> None:
    """Write a fresh, commented ``cxroi.toml`` for ``settings``.

    With ``service_secret``, a ``[service]`` section holds it as the key that signs survey
    links, and the file is readable by its owner only.
    """
    d = asdict(settings)
    d.pop("extra")
    bands = d.pop("nps_benchmarks")
    lines = [
        "# cxroi workspace settings",
        "[workspace]",
        "# Ibis URL of the engine; leave unset for the embedded DuckDB file cx.duckdb,",
        '# or e.g. engine = "postgres://user@host/db" or "pyspark://..."',
    ]
    for k, v in d.items():
        if v is not None:
            lines.append(f"{k} = {_toml_value(v)}")
    lines += ["", "[workspace.nps_benchmarks]", "# the brief: leaders (Amazon, Costco) 50-80"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in bands.items()]
    path = folder / CONFIG_FILE
    if service_secret is not None:
        lines += [
            "",
            "[service]",
            "# signs survey links (cxroi serve, survey link, invite): keep it secret",
            f"secret_key = {_toml_value(service_secret)}",
        ]
        path.touch(mode=0o600)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
