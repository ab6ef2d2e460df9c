"""Invitations: one signed link per customer, nobody asked twice too soon, one reminder.

``cxroi invite`` reads the customers to ask, drops those invited (to any survey) within
``recontact_days`` (the rule runs in the engine: the list joined to the ``invitations``
table), records one invitation per remaining customer in the store and writes
``customer_id,token,url`` for the mailing tool. A dry run says who would be suppressed and
writes nothing. The link is the invitation's signed token (:mod:`cxroi.service.tokens`); it
carries the invitation's random id, not the customer.

``cxroi invite remind`` lists, once, the invitations still unanswered ``reminder_days`` after
they went out and not yet expired, with the same link, and records ``reminded_at``.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ibis
import pandas as pd

from cxroi.errors import CxroiError
from cxroi.files import atomic_file
from cxroi.readers import read_source
from cxroi.results import Result, Table, csv_safe
from cxroi.service.journal import Journal
from cxroi.service.settings import ServiceSettings
from cxroi.service.surveys import Survey
from cxroi.service.tokens import LinkSigner, new_invitation_id
from cxroi.store import Workspace

__all__ = ["Invited", "invite", "read_customer_ids", "remind", "survey_url"]

MAX_INVITES = 5_000_000


def survey_url(base_url: str, token: str) -> str:
    """The public page of a token."""
    return f"{base_url.rstrip('/')}/s/{token}"


@dataclass(frozen=True)
class Invited:
    """An invitation run: the result to show and the rows written to ``--out``."""

    result: Result
    links: pd.DataFrame  # customer_id, token, url


def read_customer_ids(path: str | Path) -> list[str]:
    """The ``customer_id`` column of a CSV, Parquet, JSON Lines or Excel file, de-duplicated.

    Raises
    ------
    CxroiError
        The file cannot be read, has no ``customer_id`` column, or has empty ids (the line
        is named).
    """
    staged = read_source(Path(path))
    data = staged.data
    if "customer_id" not in data.column_names:
        raise CxroiError(f"{path}: no customer_id column (columns: {', '.join(data.column_names)})")
    ids = pd.Series(data.column("customer_id").to_pylist(), dtype=object)
    empty = ids.isna() | (ids.astype(str).str.strip() == "")
    if empty.any():
        raise CxroiError(f"{path}: line {int(empty.to_numpy().argmax()) + 2}: customer_id is empty")
    ids = ids.astype(str).str.strip()
    if len(ids) > MAX_INVITES:
        raise CxroiError(f"{path}: {len(ids):,} customers; invite at most {MAX_INVITES:,} a run")
    return list(dict.fromkeys(ids))


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None)


def _write_links(path: str | Path, links: pd.DataFrame, then: Callable[[], object]) -> None:
    """Write ``links`` to ``path``, run ``then`` (the store write), and only then put the file
    in place: a failed store write leaves no file, and a failed file write stores nothing."""
    with atomic_file(path, newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(["customer_id", "token", "url"])
        for r in links.itertuples(index=False):
            w.writerow([csv_safe(r.customer_id), r.token, r.url])
        f.flush()
        then()


def invite(
    ws: Workspace,
    survey: Survey,
    customer_ids: list[str],
    settings: ServiceSettings,
    *,
    out: str | Path | None = None,
    base_url: str | None = None,
    expires_days: int | None = None,
    recontact_days: int | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> Invited:
    """Invite ``customer_ids`` to ``survey`` (see the module docstring).

    Returns
    -------
    Invited
        Tables ``summary`` (asked, invited, suppressed, unknown customers) and
        ``suppressed`` (customer, last invitation, its survey).

    Raises
    ------
    CxroiError
        No customers, a bad ``expires_days``, a dry run with ``out``, or a run without ``out``.
    """
    now = now or dt.datetime.now(dt.UTC)
    expires_days = settings.invite_expires_days if expires_days is None else expires_days
    recontact = settings.recontact_days if recontact_days is None else recontact_days
    if not customer_ids:
        raise CxroiError("--customers: the file lists no customers")
    if expires_days < 1:
        raise CxroiError(f"--expires-days must be at least 1, got {expires_days}")
    if recontact < 0:
        raise CxroiError(f"--recontact-days must be >= 0, got {recontact}")
    if not dry_run and out is None:
        raise CxroiError("--out: give the file for customer_id,token,url (or pass --dry-run)")
    signer = LinkSigner(settings.secret_keys)  # refuses a default secret before any work
    asked = ibis.memtable(pd.DataFrame({"customer_id": customer_ids}))
    since = _naive(now) - dt.timedelta(days=recontact)
    inv = ws.table("invitations")
    recent = (
        inv.filter(inv.invited_at >= since)
        .group_by("customer_id")
        .aggregate(
            last_invited_at=inv.invited_at.max(), last_survey=inv.survey.argmax(inv.invited_at)
        )
    )
    known = ws.table("customers").select("customer_id").distinct().mutate(known=True)
    j = asked.left_join(recent, "customer_id").left_join(known, "customer_id")
    plan = j.select("customer_id", "last_invited_at", "last_survey", "known").to_pandas()
    plan = plan.set_index("customer_id").loc[customer_ids].reset_index()  # the file's order
    held = plan["last_invited_at"].notna() if recontact > 0 else pd.Series(False, plan.index)
    unknown = int(plan["known"].isna().sum())
    go = plan[~held]
    expires = _naive(now) + dt.timedelta(days=expires_days)
    ids = [new_invitation_id() for _ in range(len(go))]
    exp_epoch = int(expires.replace(tzinfo=dt.UTC).timestamp())
    tokens = [signer.invitation(survey.name, i, expires=exp_epoch) for i in ids]
    links = pd.DataFrame(
        {
            "customer_id": go["customer_id"].to_numpy(),
            "token": tokens,
            "url": [survey_url(base_url or settings.base_url, t) for t in tokens],
        }
    )
    if not dry_run:
        rows = pd.DataFrame(
            {
                "invitation_id": ids,
                "customer_id": links["customer_id"],
                "survey": survey.name,
                "invited_at": _naive(now),
                "expires_at": expires,
            }
        )
        assert out is not None
        _write_links(
            out, links, lambda: len(rows) and ws.ingest("invitations", rows, adapter="none")
        )
    summary = pd.DataFrame(
        {
            "quantity": ["asked", "invited", "suppressed", "not_in_customers"],
            "value": [len(plan), 0 if dry_run else len(go), int(held.sum()), unknown],
        }
    )
    sup = plan.loc[held, ["customer_id", "last_invited_at", "last_survey"]]
    warnings = []
    if unknown:
        warnings.append(
            f"{unknown:,} of the customers are not in the customers table; they "
            "are invited, and their answers carry the id given"
        )
    verb = "would invite" if dry_run else "invited"
    return Invited(
        Result(
            "invite",
            f"Invitations to {survey.name}" + (" (dry run: nothing written)" if dry_run else ""),
            [
                Table("summary", "Invitations", summary),
                Table(
                    "suppressed",
                    f"Invited within the last {recontact} days",
                    sup.reset_index(drop=True),
                ),
            ],
            window={"as_of": now.isoformat(), "expires_at": expires.isoformat() + "Z"},
            params={
                "survey": survey.name,
                "recontact_days": recontact,
                "expires_days": expires_days,
                "dry_run": dry_run,
                "out": None if out is None else str(out),
            },
            warnings=warnings,
            readings=[
                f"{verb.capitalize()} {len(go):,} of {len(plan):,} customers; "
                f"{int(held.sum()):,} were invited within the last {recontact} days."
            ],
        ),
        links,
    )


def remind(
    ws: Workspace,
    journal: Journal,
    survey: Survey,
    settings: ServiceSettings,
    *,
    out: str | Path,
    after_days: int | None = None,
    base_url: str | None = None,
    now: dt.datetime | None = None,
) -> Invited:
    """Write, once, the links of invitations still unanswered ``after_days`` after they went
    out and not yet expired; record ``reminded_at``.

    An invitation has answered when the journal holds its answer or the store holds its
    response (``w-<invitation_id>``).
    """
    now = now or dt.datetime.now(dt.UTC)
    after = settings.reminder_days if after_days is None else after_days
    if after < 1:
        raise CxroiError(f"--after-days must be at least 1, got {after}")
    signer = LinkSigner(settings.secret_keys)
    inv = ws.table("invitations")
    due = inv.filter(
        (inv.survey == survey.name)
        & inv.reminded_at.isnull()
        & (inv.invited_at <= _naive(now) - dt.timedelta(days=after))
        & (inv.expires_at > _naive(now))
    )
    rs = ws.table("responses")
    answered_in_store = rs.filter(rs.response_id.startswith("w-")).select(
        invitation_id=rs.response_id.substr(2)
    )
    due = due.anti_join(answered_in_store, "invitation_id")
    rows = due.to_pandas()
    rows = rows[~rows["invitation_id"].isin(journal.answered(rows["invitation_id"].tolist()))]
    tokens = [
        signer.invitation(
            survey.name,
            r.invitation_id,
            expires=int(pd.Timestamp(r.expires_at).tz_localize("UTC").timestamp()),
        )
        for r in rows.itertuples()
    ]
    links = pd.DataFrame(
        {
            "customer_id": rows["customer_id"].to_numpy(),
            "token": tokens,
            "url": [survey_url(base_url or settings.base_url, t) for t in tokens],
        }
    )
    rows = rows.assign(reminded_at=_naive(now))
    _write_links(out, links, lambda: len(rows) and ws.ingest("invitations", rows, adapter="none"))
    summary = pd.DataFrame({"quantity": ["reminded"], "value": [len(rows)]})
    return Invited(
        Result(
            "remind",
            f"Reminders for {survey.name}",
            [Table("summary", "Reminders", summary)],
            window={"as_of": now.isoformat()},
            params={"survey": survey.name, "after_days": after, "out": str(out)},
            readings=[f"Reminded {len(rows):,} customers who had not answered after {after} days."],
        ),
        links,
    )
