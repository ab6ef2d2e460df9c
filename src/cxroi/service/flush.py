"""Move answers from the intake journal into the store, open their cases, tell the owners.

:func:`flush` is one short write to the store (``docs/concurrency.md``): it opens the
workspace for writing, upserts the waiting answers into ``responses`` through the normal
ingest path (checked, redacted, one transaction; an answer changed since its last move
replaces its row), opens the cases they call for (:mod:`cxroi.service.cases`), closes the
store and marks the answers moved. Every step may run twice without harm: responses upsert by
key, cases are keyed by their response, notifications by their case. So a crash anywhere
loses nothing and duplicates nothing; the next flush finishes the work.

:class:`Maintenance` runs flushes and notification rounds in the background of the service,
one process at a time (the journal's maintenance lock), and a last flush on shutdown.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import ibis
import pandas as pd

from cxroi.errors import CxroiError
from cxroi.service import notify
from cxroi.service.cases import new_cases
from cxroi.service.journal import Journal, utcnow
from cxroi.service.settings import ServiceSettings

__all__ = ["FlushResult", "Maintenance", "flush"]

KEEP_DAYS = 7
"""Days the journal keeps answers after they moved into the store."""
NICE = 10
"""Niceness of the maintenance thread (requests first, moving answers when the CPU is free)."""
BATCH = 20_000
log = logging.getLogger("cxroi.service")


@dataclass(frozen=True)
class FlushResult:
    """What one flush moved."""

    responses: int = 0
    cases: int = 0
    held_out: int = 0
    notifications: int = 0
    waiting: int = 0


def _answers(rows: list[tuple]) -> pd.DataFrame:
    """Journal rows to ``responses`` rows: the latest revision of each response."""
    recs = []
    for seq, rid, ts, survey, tp, inv, lang, answer in rows:
        recs.append(
            {
                "_seq": seq,
                "response_id": rid,
                "ts": ts,
                "survey": survey,
                "touchpoint": tp,
                "_invitation_id": inv,
                "language": lang,
                **json.loads(answer),
            }
        )
    f = pd.DataFrame(recs).sort_values("_seq").drop_duplicates("response_id", keep="last")
    f["ts"] = pd.to_datetime(f["ts"], utc=True, format="ISO8601").dt.tz_localize(None)
    for c in ("nps", "csat", "ces", *[c for c in f.columns if c.startswith("rating_")]):
        if c in f:
            f[c] = f[c].astype("Int64")
    if "comment" not in f:
        f["comment"] = None
    return f


def flush(
    folder: str | Path,
    journal: Journal,
    settings: ServiceSettings,
    *,
    limit: int = BATCH,
    now: dt.datetime | None = None,
) -> FlushResult:
    """Move up to ``limit`` waiting answers into the store (see the module docstring).

    Raises
    ------
    WorkspaceError
        The store stayed busy past ``lock_timeout``; nothing was marked moved.
    """
    from cxroi.store import Workspace

    folder = Path(folder)
    rows = journal.waiting_rows(limit)
    staged = notify.staged_case_ids(journal)
    if not rows and not staged:
        return FlushResult()
    now = now or utcnow()
    n_cases = n_held = n_note = 0
    with Workspace.open(folder, purpose="service flush") as ws:
        if staged:  # a crash came between the outbox and the store last time
            ids = ibis.memtable(pd.DataFrame({"case_id": staged}))
            stored = ws.table("cases").select("case_id").inner_join(ids, "case_id").to_pandas()
            notify.mark_ready(journal, stored["case_id"])
        if rows:
            answers = _answers(rows)
            invited = answers["_invitation_id"].dropna().unique()
            who = pd.DataFrame({"invitation_id": [], "customer_id": []})
            if len(invited):
                inv = ws.table("invitations")
                ids = ibis.memtable(pd.DataFrame({"invitation_id": invited}))
                who = (
                    inv.inner_join(ids, "invitation_id")
                    .select("invitation_id", "customer_id")
                    .to_pandas()
                )
            answers["customer_id"] = answers["_invitation_id"].map(
                dict(zip(who["invitation_id"], who["customer_id"], strict=True))
            )
            frame = answers.drop(columns=["_seq", "_invitation_id"])
            for c in ("response_id", "customer_id", "survey", "touchpoint", "comment", "language"):
                frame[c] = frame[c].astype("string")  # typed even when every value is missing
            # the journal holds text redacted by this workspace's redactor already
            ws.ingest("responses", frame, replace_rows=True, adapter="none", redacted=True)
            cases = new_cases(ws, frame, settings.cases, now=now)
            if not cases.empty:
                n_note = notify.stage(journal, cases, frame, settings.cases)
                ws.ingest("cases", cases, adapter="none", redacted=True)
                notify.mark_ready(journal, cases["case_id"])
                n_cases, n_held = len(cases), int((cases["status"] == "held_out").sum())
    if rows:
        journal.mark_moved(rows[-1][0])
    return FlushResult(len(rows), n_cases, n_held, n_note, journal.waiting())


class Maintenance:
    """Flush the journal and deliver notifications every ``interval`` seconds, in a thread.

    Only one process of the workspace works at a time (:func:`maintenance_lock`); the others
    skip their turn. :meth:`stop` runs a last flush of everything waiting.
    """

    def __init__(self, folder: str | Path, journal: Journal, settings: ServiceSettings):
        self.folder = Path(folder)
        self.journal = journal
        self.settings = settings
        self.interval = settings.flush_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.last_flush: float | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cxroi-maintenance", daemon=True)
        self._thread.start()

    def _round(self, *, final: bool) -> None:
        """One flush of up to :data:`BATCH` answers and one round of notifications; the
        ``final`` round waits for the lock and moves everything."""
        with self.journal.maintenance(wait=final) as mine:
            if not mine:
                return
            try:
                while True:
                    r = flush(self.folder, self.journal, self.settings)
                    if r.responses:
                        log.info(
                            "moved %d answers into the store (%d cases, %d held out)",
                            r.responses,
                            r.cases,
                            r.held_out,
                        )
                    if not (final and r.waiting):
                        break
                notify.deliver_due(self.journal, self.settings.cases)
                self.last_error, self.last_flush = None, time.time()
            except CxroiError as e:  # a busy store, a bad row: kept in the journal, retried
                self.last_error = str(e)
                log.warning("flush postponed: %s", e)

    def _run(self) -> None:
        # background work yields the CPU to the request path: on Linux a thread has its own
        # niceness, so this lowers only the maintenance thread (DuckDB's own threads inherit it)
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        last_prune = 0.0
        while not self._stop.wait(self.interval):
            self._round(final=False)
            if time.monotonic() - last_prune > 3600:
                with contextlib.suppress(CxroiError):
                    self.journal.prune_idempotency(utcnow() - dt.timedelta(days=1))
                    self.journal.prune_moved(utcnow() - dt.timedelta(days=KEEP_DAYS))
                last_prune = time.monotonic()

    def stop(self) -> None:
        """Stop the loop, then move everything still waiting into the store."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._round(final=True)
