"""Tell a case's owner: a signed webhook and/or an e-mail, retried until delivered.

**Outbox.** A notification is first written to the journal's ``outbox`` (state ``staged``)
*before* its case is written to the store, then marked ``ready`` once the case is stored.
A crash between the two leaves a staged row that the next move of the same answer marks
ready (the case id is deterministic), so no case is stored without its notification and no
notification is sent for a case that was never stored. Delivery is at least once: the
``webhook-id`` header is ``msg_<case_id>`` on every attempt, so a receiver can drop repeats.

**Webhooks** follow the Standard Webhooks scheme (https://www.standardwebhooks.com): headers
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (``v1,`` + base64 HMAC-SHA256
over ``id.timestamp.body`` with the ``whsec_`` secret), signed by the ``standardwebhooks``
library that receivers verify with. Any 2xx answer is a delivery; anything else, or no answer
within 10 s, is retried after 10 s, 1 min, 5 min, 30 min, 2 h and 6 h, then marked ``failed``.

**E-mail** goes to an owner that is an e-mail address, through ``[cases] smtp_host`` (STARTTLS
unless turned off), built with :class:`email.message.EmailMessage`, which refuses header
injection. The body holds the answer (its comment already redacted) and the case's due date.
"""

from __future__ import annotations

import datetime as dt
import json
import smtplib
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx
import pandas as pd

from cxroi.service.journal import Journal
from cxroi.service.settings import CaseSettings

__all__ = ["BACKOFF", "Delivery", "deliver_due", "mark_ready", "stage"]

BACKOFF = (10, 60, 300, 1800, 7200, 21600)
"""Seconds before each retry; after the last, a notification is ``failed``."""
TIMEOUT = 10.0


@dataclass(frozen=True)
class Delivery:
    """What one round of delivery did."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0


def _payload(case: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    def iso(v: Any) -> str | None:
        return None if v is None or pd.isna(v) else pd.Timestamp(v).isoformat() + "Z"

    return {
        "type": "case.opened",
        "timestamp": iso(case["opened_at"]),
        "data": {
            "case_id": case["case_id"],
            "response_id": case["response_id"],
            "owner": case["owner"],
            "due_at": iso(case["due_at"]),
            "customer_id": answer.get("customer_id"),
            "survey": answer.get("survey"),
            "touchpoint": answer.get("touchpoint"),
            "nps": answer.get("nps"),
            "csat": answer.get("csat"),
            "ces": answer.get("ces"),
            "comment": answer.get("comment"),
        },
    }


def stage(journal: Journal, cases: pd.DataFrame, answers: pd.DataFrame, rules: CaseSettings) -> int:
    """Write the notifications of new ``cases`` (not held out) to the outbox, staged.

    ``answers`` are the responses rows that opened them (by ``response_id``). Returns how
    many notifications were staged.
    """
    open_ = cases[cases["status"] == "open"]
    if open_.empty or not rules.notifies:
        return 0
    cols = ["response_id", "customer_id", "survey", "touchpoint", "nps", "csat", "ces", "comment"]
    a = answers.reindex(columns=cols).drop_duplicates("response_id", keep="last")
    merged = open_.merge(a, on="response_id", how="left")
    rows = []
    for rec in merged.to_dict("records"):
        rec = {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in rec.items()}
        for k in ("nps", "csat", "ces"):
            rec[k] = None if rec[k] is None else int(rec[k])
        body = json.dumps(_payload(rec, rec), ensure_ascii=False, separators=(",", ":"))
        if rules.webhook_url:
            rows.append((rec["case_id"], "webhook", rules.webhook_url, body))
        if rules.smtp_host and "@" in (rec.get("owner") or ""):
            rows.append((rec["case_id"], "email", rec["owner"], body))
    with journal.transaction() as con:
        con.executemany(
            "INSERT OR IGNORE INTO outbox (case_id, channel, target, payload, state) "
            "VALUES (?, ?, ?, ?, 'staged')",
            rows,
        )
    return len(rows)


def mark_ready(journal: Journal, case_ids: Iterable[str]) -> None:
    """The cases are stored: their staged notifications may go."""
    ids = list(case_ids)
    with journal.transaction() as con:
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            con.execute(
                f"UPDATE outbox SET state = 'ready' WHERE state = 'staged' AND case_id "
                f"IN ({','.join('?' * len(part))})",
                part,
            )


def staged_case_ids(journal: Journal) -> list[str]:
    """Cases whose notifications are still staged (a crash came between outbox and store)."""
    rows = journal.reader.execute("SELECT DISTINCT case_id FROM outbox WHERE state = 'staged'")
    return [r[0] for r in rows]


def _send_webhook(url: str, secret: str, case_id: str, body: str) -> None:
    from standardwebhooks.webhooks import Webhook

    msg_id, now = f"msg_{case_id}", dt.datetime.now(dt.UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
        "user-agent": "cxroi-webhooks/1",
    }
    r = httpx.post(
        url, content=body.encode(), headers=headers, timeout=TIMEOUT, follow_redirects=False
    )
    if not 200 <= r.status_code < 300:
        raise OSError(f"HTTP {r.status_code}")


def _one_line(s: Any) -> str:
    return " ".join(str(s if s is not None else "").split())


def _send_email(rules: CaseSettings, to: str, body: str) -> None:
    d = json.loads(body)["data"]
    msg = EmailMessage()
    msg["From"] = rules.smtp_from or "cxroi@localhost"
    msg["To"] = _one_line(to)
    msg["Subject"] = _one_line(f"cxroi case {d['case_id']}: follow up by {d['due_at']}")
    scores = ", ".join(f"{k.upper()} {d[k]}" for k in ("nps", "csat", "ces") if d[k] is not None)
    msg.set_content(
        f"A customer answered {d['survey'] or 'a survey'}"
        f"{' at ' + d['touchpoint'] if d['touchpoint'] else ''}: {scores}.\n\n"
        f"Comment: {d['comment'] or '(none)'}\n\nCustomer: {d['customer_id'] or 'anonymous'}\n"
        f"Case: {d['case_id']}, due {d['due_at']}.\n\nClose it with: cxroi cases close "
        f"{d['case_id']} --outcome '...'\n"
    )
    with smtplib.SMTP(rules.smtp_host or "", rules.smtp_port, timeout=TIMEOUT) as s:
        if rules.smtp_starttls:
            s.starttls()
        if rules.smtp_user:
            s.login(rules.smtp_user, rules.smtp_password or "")
        s.send_message(msg)


def deliver_due(
    journal: Journal, rules: CaseSettings, *, now: float | None = None, limit: int = 200
) -> Delivery:
    """Send every ready notification whose time has come; retry or fail the ones that do not
    go through (see the module docstring)."""
    now = time.time() if now is None else now
    rows = journal.reader.execute(
        "SELECT case_id, channel, target, payload, attempts FROM outbox WHERE state = 'ready' "
        "AND next_at <= ? ORDER BY next_at LIMIT ?",
        (now, limit),
    ).fetchall()
    done = retried = failed = 0
    for case_id, channel, target, payload, attempts in rows:
        try:
            if channel == "webhook":
                _send_webhook(target, rules.webhook_secret or "", case_id, payload)
            else:
                _send_email(rules, target, payload)
        except (OSError, httpx.HTTPError, smtplib.SMTPException, ValueError) as e:
            gone = attempts >= len(BACKOFF)
            wait = 0 if gone else BACKOFF[attempts]
            with journal.transaction() as con:
                con.execute(
                    "UPDATE outbox SET attempts = attempts + 1, next_at = ?, "
                    "last_error = ?, state = ? WHERE case_id = ? AND channel = ?",
                    (
                        now + wait,
                        _one_line(e)[:300],
                        "failed" if gone else "ready",
                        case_id,
                        channel,
                    ),
                )
            failed += gone
            retried += not gone
            continue
        with journal.transaction() as con:
            con.execute(
                "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, "
                "delivered_at = ? WHERE case_id = ? AND channel = ?",
                (dt.datetime.now(dt.UTC).isoformat(), case_id, channel),
            )
        done += 1
    return Delivery(done, retried, failed)


def outbox_counts(con: sqlite3.Connection) -> dict[str, int]:
    """Notifications by state."""
    return {s: n for s, n in con.execute("SELECT state, count(*) FROM outbox GROUP BY state")}
