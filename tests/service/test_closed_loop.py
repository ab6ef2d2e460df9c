"""The closed loop and invitations as a library: which answers open cases, for whom, who is
held out; the re-contact rule and reminders; notifications retried and e-mailed."""

from __future__ import annotations

import datetime as dt
import email
import json

import numpy as np
import pandas as pd
import pytest
from standardwebhooks.webhooks import Webhook

from cxroi.errors import CxroiError
from cxroi.holdout import holdout_draw
from cxroi.service import notify
from cxroi.service.cases import assign_case, cases_result, close_case, new_cases
from cxroi.service.invitations import invite, remind
from cxroi.service.journal import Intake, Journal
from cxroi.service.settings import CaseSettings, Route, load_service_settings
from cxroi.service.surveys import Survey, add_survey
from cxroi.store import Workspace
from tests.service._server import WEBHOOK_SECRET, Receiver, free_port

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def ws(tmp_path):
    rng = np.random.default_rng(3)
    n = 2000
    with Workspace.init(tmp_path / "ws") as w:
        w.ingest(
            "customers",
            pd.DataFrame(
                {
                    "customer_id": [f"C{i:04d}" for i in range(n)],
                    "plan": rng.choice(["basic", "premium"], n),
                }
            ),
        )
        add_survey(w.path, Survey("rel", questions=("nps", "comment")))
        yield w


def _answers(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "response_id": [f"w-{i}" for i in range(n)],
            "customer_id": [f"C{i:04d}" for i in range(n)],
            "survey": "rel",
            "touchpoint": rng.choice(["delivery", "support_chat", None], n),
            "nps": pd.array(rng.integers(0, 11, n), dtype="Int64"),
            "comment": "x",
        }
    )


def test_cases_open_on_the_rules_route_by_first_match_and_hold_out_by_hash(ws):
    rules = CaseSettings(
        open_when=("nps <= 6",),
        holdout_share=0.3,
        default_owner="team",
        due_days=3,
        routes=(Route("plan == 'premium'", "vip"), Route("touchpoint == 'delivery'", "ops")),
    )
    answers = _answers(2000)
    cases = new_cases(ws, answers, rules, now=NOW).set_index("response_id")
    plans = ws.table("customers").to_pandas().set_index("customer_id")["plan"]
    a = answers.set_index("response_id")
    detractors = a[a["nps"] <= 6]
    assert set(cases.index) == set(detractors.index)  # exactly the detractors
    for rid, row in detractors.iterrows():
        plan = plans[row["customer_id"]]
        want = "vip" if plan == "premium" else "ops" if row["touchpoint"] == "delivery" else "team"
        assert cases.loc[rid, "owner"] == want
        held = holdout_draw("closed-loop", row["customer_id"]) < 0.3
        assert (cases.loc[rid, "status"] == "held_out") == held
    share = (cases["status"] == "held_out").mean()
    assert abs(share - 0.3) < 4 * np.sqrt(0.3 * 0.7 / len(cases))
    assert (cases["due_at"] - cases["opened_at"] == pd.Timedelta(days=3)).all()
    assert (cases.reset_index()["case_id"] == "case-" + cases.index.to_series().values).all()


def test_an_answer_opens_its_case_once(ws):
    rules = CaseSettings(open_when=("nps <= 6",))
    answers = _answers(50)
    first = new_cases(ws, answers, rules, now=NOW)
    ws.ingest("cases", first, adapter="none")
    assert new_cases(ws, answers, rules, now=NOW).empty


def test_following_up_a_case(ws):
    rules = CaseSettings(open_when=("nps <= 6",), holdout_share=0.5)
    cases = new_cases(ws, _answers(200), rules, now=NOW)
    ws.ingest("responses", _answers(200).assign(ts=NOW.replace(tzinfo=None)), adapter="none")
    ws.ingest("cases", cases, adapter="none")
    open_id = cases.loc[cases["status"] == "open", "case_id"].iloc[0]
    held_id = cases.loc[cases["status"] == "held_out", "case_id"].iloc[0]
    r = assign_case(ws, open_id, "ana@example.com").table()
    assert r.iloc[0]["owner"] == "ana@example.com" and r.iloc[0]["status"] == "open"
    done = close_case(ws, open_id, "refund sent to iban DE89370400440532013000", now=NOW)
    row = done.table().iloc[0]
    assert row["status"] == "closed" and row["outcome"] == "refund sent to iban [IBAN]"
    with pytest.raises(CxroiError, match="held out from follow-up"):
        close_case(ws, held_id, "called")
    with pytest.raises(CxroiError, match="held out from follow-up"):
        assign_case(ws, held_id, "ana")
    with pytest.raises(CxroiError, match="no case 'nope'"):
        close_case(ws, "nope", "x")
    with pytest.raises(CxroiError, match="outcome: say what was done"):
        close_case(ws, open_id, " ")
    listed = cases_result(ws, status="open", now=NOW + dt.timedelta(days=10))
    t = listed.table()
    assert len(t) == (cases["status"] == "open").sum() - 1 and t["overdue"].all()
    assert listed.params["by_status"] == {
        "open": int((cases["status"] == "open").sum() - 1),
        "closed": 1,
        "held_out": int((cases["status"] == "held_out").sum()),
    }


def test_the_recontact_rule_against_a_pandas_recount(ws, tmp_path):
    settings = load_service_settings(ws.path)
    s = Survey("rel")
    ids = [f"C{i:04d}" for i in range(300)]
    past = pd.DataFrame(
        {
            "invitation_id": [f"old{i}" for i in range(200)],
            "customer_id": ids[:200],
            "survey": "other",
            "invited_at": [NOW.replace(tzinfo=None) - dt.timedelta(days=d) for d in range(0, 200)],
            "expires_at": NOW.replace(tzinfo=None) + dt.timedelta(days=30),
        }
    )
    ws.ingest("invitations", past, adapter="none")
    asked = [*ids, "NEW1"]
    dry = invite(ws, s, asked, settings, recontact_days=90, dry_run=True, now=NOW)
    expect = set(
        past.loc[
            past["invited_at"] >= NOW.replace(tzinfo=None) - dt.timedelta(days=90), "customer_id"
        ]
    )
    assert set(dry.result.table("suppressed")["customer_id"]) == expect
    summary = dry.result.table("summary").set_index("quantity")["value"]
    assert summary.to_dict() == {
        "asked": 301,
        "invited": 0,
        "suppressed": len(expect),
        "not_in_customers": 1,
    }
    assert len(ws.table("invitations").to_pandas()) == 200  # a dry run writes nothing
    out = tmp_path / "links.csv"
    done = invite(ws, s, asked, settings, recontact_days=90, out=out, now=NOW)
    links = pd.read_csv(out)
    assert set(links["customer_id"]) == set(asked) - expect
    assert list(links.columns) == ["customer_id", "token", "url"]
    assert all(u.endswith("/s/" + t) for u, t in zip(links["url"], links["token"], strict=True))
    assert done.result.warnings and "not in the customers table" in done.result.warnings[0]
    again = invite(ws, s, asked, settings, recontact_days=90, out=tmp_path / "2.csv", now=NOW)
    assert again.result.table("summary").set_index("quantity").loc["invited", "value"] == 0


def test_a_reminder_goes_once_to_the_unanswered(ws, tmp_path):
    settings = load_service_settings(ws.path)
    s = Survey("rel")
    ids = [f"C{i:04d}" for i in range(10)]
    invite(ws, s, ids, settings, out=tmp_path / "a.csv", now=NOW - dt.timedelta(days=8))
    links = pd.read_csv(tmp_path / "a.csv").set_index("customer_id")
    journal = Journal(ws.path)
    inv = ws.table("invitations").to_pandas().set_index("customer_id")["invitation_id"]
    with journal:
        journal.accept(Intake(f"w-{inv['C0003']}", "rel", None, inv["C0003"], None, {"nps": 9}))
    first = remind(ws, journal, s, settings, out=tmp_path / "r.csv", after_days=7, now=NOW)
    sent = pd.read_csv(tmp_path / "r.csv")
    assert set(sent["customer_id"]) == set(ids) - {"C0003"}
    assert (sent.set_index("customer_id")["token"] == links["token"].drop("C0003")).all()
    assert first.result.table().iloc[0]["value"] == 9
    second = remind(ws, journal, s, settings, out=tmp_path / "r2.csv", after_days=7, now=NOW)
    assert second.result.table().iloc[0]["value"] == 0 and pd.read_csv(tmp_path / "r2.csv").empty


def test_notifications_retry_until_delivered_with_the_same_message_id(ws):
    journal = Journal(ws.path)
    with Receiver(statuses=[500, 503]) as rx:
        rules = CaseSettings(webhook_url=rx.url, webhook_secret=WEBHOOK_SECRET)
        cases = new_cases(ws, _answers(30), CaseSettings(open_when=("nps <= 6",)), now=NOW)
        one = cases.iloc[:1]
        assert notify.stage(journal, one, _answers(30), rules) == 1
        assert notify.deliver_due(journal, rules, now=0).delivered == 0  # staged, not ready
        notify.mark_ready(journal, one["case_id"])
        t0 = 1000.0
        r1 = notify.deliver_due(journal, rules, now=t0)
        assert (r1.delivered, r1.retried) == (0, 1)
        assert notify.deliver_due(journal, rules, now=t0 + 5).retried == 0  # not due yet
        assert notify.deliver_due(journal, rules, now=t0 + notify.BACKOFF[0]).retried == 1
        r3 = notify.deliver_due(journal, rules, now=t0 + notify.BACKOFF[0] + notify.BACKOFF[1])
        assert r3.delivered == 1
        ids = {h["webhook-id"] for h, _ in rx.requests}
        assert len(rx.requests) == 3 and ids == {f"msg_{one['case_id'].iloc[0]}"}
        for headers, body in rx.requests:
            Webhook(WEBHOOK_SECRET).verify(body, headers)


def test_a_notification_that_never_goes_through_is_marked_failed(ws):
    journal = Journal(ws.path)
    rules = CaseSettings(webhook_url="http://127.0.0.1:9/nothing", webhook_secret=WEBHOOK_SECRET)
    cases = new_cases(ws, _answers(30), CaseSettings(open_when=("nps <= 6",)), now=NOW).iloc[:1]
    notify.stage(journal, cases, _answers(30), rules)
    notify.mark_ready(journal, cases["case_id"])
    t, failed = 0.0, 0
    for wait in (0, *notify.BACKOFF):
        t += wait
        failed += notify.deliver_due(journal, rules, now=t).failed
    assert failed == 1
    assert notify.outbox_counts(journal.reader) == {"failed": 1}


def test_an_owner_with_an_address_gets_an_email(ws):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    got: list[email.message.Message] = []

    class Keep(Message):
        def handle_message(self, message):  # noqa: ANN001
            got.append(message)

    port = free_port()
    smtp = Controller(Keep(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        rules = CaseSettings(
            smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False, smtp_from="cx@example.com"
        )
        cases = new_cases(ws, _answers(30), CaseSettings(open_when=("nps <= 6",)), now=NOW)
        one = cases.iloc[:1].assign(owner="ana@example.com\nBcc: evil@example.com")
        journal = Journal(ws.path)
        notify.stage(journal, one, _answers(30), rules)
        notify.mark_ready(journal, one["case_id"])
        assert notify.deliver_due(journal, rules).delivered == 1
    finally:
        smtp.stop()
    (msg,) = got
    assert msg["To"] == "ana@example.com Bcc: evil@example.com" and msg["Bcc"] is None
    assert msg["From"] == "cx@example.com" and one["case_id"].iloc[0] in msg["Subject"]
    body = msg.get_payload()
    assert "cxroi cases close" in body and "C0000" in body
    payload = json.loads(journal.reader.execute("SELECT payload FROM outbox").fetchone()[0])
    assert payload["data"]["customer_id"] == "C0000"
