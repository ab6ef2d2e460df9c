"""The collection service driven over HTTP, as a respondent, a client app and an admin would:
a real ``cxroi serve`` process on loopback, a real webhook receiver, the real CLI.

Invite -> open the link -> answer -> the answer in the store, redacted -> a case opened and
routed -> a signed webhook received and verified -> the case closed; plus replays, changes,
idempotency, forged and expired links, API keys, limits, headers, and reads while it writes.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time

import httpx
import pandas as pd
import pytest
from standardwebhooks.webhooks import Webhook

from cxroi.service import load_service_settings
from cxroi.service.tokens import LinkSigner
from cxroi.store import Workspace
from tests.service._server import (
    WEBHOOK_SECRET,
    Receiver,
    Server,
    cli,
    make_workspace,
    token_of,
    wait_for,
)

CASES = (
    'open_when = ["nps <= 6", "csat <= 2"]\ndue_days = 2\n'
    'default_owner = "cx-team@example.com"\n'
    'webhook_secret = "' + WEBHOOK_SECRET + '"\n'
    '[[cases.routes]]\nwhen = "plan == \'premium\'"\nowner = "vip@example.com"\n'
    '[[cases.routes]]\nwhen = "touchpoint == \'support_chat\'"\nowner = "support@example.com"\n'
)


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture(scope="module")
def served(tmp_path_factory, receiver):
    folder = make_workspace(
        tmp_path_factory.mktemp("svc") / "ws", cases=CASES + f'webhook_url = "{receiver.url}"\n'
    )
    # the [[cases.routes]] tables must follow every [cases] key: move the URL up
    toml = folder / "cxroi.toml"
    text = toml.read_text().replace(f'webhook_url = "{receiver.url}"\n', "")
    toml.write_text(
        text.replace("due_days = 2\n", f'due_days = 2\nwebhook_url = "{receiver.url}"\n')
    )
    with Server(folder, "--rate-limit", "0") as server:
        yield folder, server


@pytest.fixture(scope="module")
def invited(served, tmp_path_factory):
    folder, _ = served
    d = tmp_path_factory.mktemp("inv")
    (d / "c.csv").write_text("customer_id\nC1\nC2\nC3\n")
    r = cli(
        "invite",
        "--survey",
        "relationship",
        "--customers",
        str(d / "c.csv"),
        "--out",
        str(d / "links.csv"),
        "-w",
        str(folder),
    )
    assert r.returncode == 0, r.stderr
    assert "Invited 3 of 3 customers" in r.stdout and "eyJ" not in r.stdout  # no token shown
    return pd.read_csv(d / "links.csv").set_index("customer_id")


def _store(folder, sql_table: str) -> pd.DataFrame:
    with Workspace.open(folder, read_only=True) as ws:
        return ws.table(sql_table).to_pandas()


def _rows(folder, table: str, **equal) -> pd.DataFrame | None:
    """The stored rows whose columns equal ``equal``, or ``None`` while there are none."""
    t = _store(folder, table)
    for col, value in equal.items():
        t = t[t[col] == value] if col in t else t.iloc[0:0]
    return t if len(t) else None


def _post(server, body, **kw):
    return httpx.post(server.url + "/api/v1/responses", json=body, timeout=10, **kw)


# -- the closed loop, end to end -----------------------------------------------------------------
def test_invite_answer_case_webhook_close(served, invited, receiver):
    folder, server = served
    url = invited.loc["C2", "url"]  # C2 is on the premium plan
    path = url.split(str(load_service_settings(folder).base_url))[-1]
    page = httpx.get(server.url + path, headers={"accept-language": "de-DE,de;q=0.9"})
    assert page.status_code == 200 and '<html lang="de">' in page.text
    assert "Wie wahrscheinlich ist es, dass Sie Acme" in page.text
    assert "<script" not in page.text  # a page that works without JavaScript
    form = {
        "nps": "2",
        "rating_delivery": "3",
        "lang": "de",
        "nonce": "n1",
        "comment": "late <script>alert(1)</script>; call me on +44 20 7946 0958",
    }
    r = httpx.post(server.url + path, data=form)
    assert r.status_code == 303 and r.headers["location"].endswith("/thanks?lang=de")
    thanks = httpx.get(server.url + r.headers["location"])
    assert "Vielen Dank" in thanks.text and "bis zum" in thanks.text  # may change until ...

    row = wait_for(lambda: _rows(folder, "responses", customer_id="C2")).iloc[0]
    assert row["nps"] == 2 and row["rating_delivery"] == 3 and row["survey"] == "relationship"
    assert row["comment"] == "late <script>alert(1)</script>; call me on [PHONE]"
    assert row["language"] == "de"

    case = wait_for(lambda: _rows(folder, "cases", response_id=row["response_id"])).iloc[0]
    assert case["status"] == "open" and case["owner"] == "vip@example.com"  # routed by plan
    assert (case["due_at"] - case["opened_at"]) == pd.Timedelta(days=2)

    headers, body = receiver.wait(1)[0]
    event = Webhook(WEBHOOK_SECRET).verify(body, headers)  # raises on a bad signature
    assert event["type"] == "case.opened" and event["data"]["case_id"] == case["case_id"]
    assert headers["webhook-id"] == f"msg_{case['case_id']}"
    assert event["data"]["customer_id"] == "C2" and event["data"]["nps"] == 2
    assert "[PHONE]" in event["data"]["comment"]
    forged = {**headers, "webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()}
    with pytest.raises(Exception, match="[Ss]ignature"):
        Webhook(WEBHOOK_SECRET).verify(body, forged)

    # the answer shows on the page again, as text; then the owner closes the case
    again = httpx.get(server.url + path)
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;" in again.text and "<script>alert" not in again.text
    )
    assert 'value="2" checked' in again.text
    case_id = event["data"]["case_id"]
    r = cli(
        "cases",
        "close",
        case_id,
        "--outcome",
        "called back, mail a.b@example.com",
        "-w",
        str(folder),
        "--format",
        "json",
    )
    assert r.returncode == 0, r.stderr
    closed = json.loads(r.stdout)["tables"][0]["rows"][0]
    assert closed["status"] == "closed" and closed["outcome"] == "called back, mail [EMAIL]"
    r = cli("cases", "close", case_id, "--outcome", "again", "-w", str(folder))
    assert r.returncode == 2 and r.stderr.strip() == f"error: case {case_id} is closed already"


# -- the answer API ------------------------------------------------------------------------------
def test_an_invitation_answers_once_then_changes_with_put(served, invited):
    folder, server = served
    tok = invited.loc["C3", "token"]
    r = _post(server, {"token": tok, "nps": 9})
    assert r.status_code == 201
    rid = r.json()["response_id"]
    replay = _post(server, {"token": tok, "nps": 9})
    assert replay.status_code == 409 and f"PUT /api/v1/responses/{rid}" in replay.json()["detail"]
    put = httpx.put(f"{server.url}/api/v1/responses/{rid}", json={"token": tok, "nps": 4})
    assert put.status_code == 200 and put.json() == {"response_id": rid, "status": "changed"}
    wrong = httpx.put(f"{server.url}/api/v1/responses/w-other", json={"token": tok, "nps": 4})
    assert wrong.status_code == 404
    stored = wait_for(lambda: _rows(folder, "responses", response_id=rid, nps=4))
    assert len(stored) == 1 and stored.iloc[0]["customer_id"] == "C3"


def test_an_idempotency_key_repeats_the_first_answer(served):
    folder, server = served
    tok = token_of(folder)
    body = {"token": tok, "nps": 10}
    first = _post(server, body, headers={"Idempotency-Key": "k-1"})
    again = _post(server, body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["idempotent-replayed"] == "true"
    other = _post(server, {**body, "nps": 1}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 422 and "Idempotency-Key" in other.text
    third = _post(server, body)  # an open link without a key: a new answer each time
    assert third.status_code == 201 and third.json()["response_id"] != first.json()["response_id"]


def _forge(folder, **payload_changes) -> str:
    secret = load_service_settings(folder).signing_key
    return LinkSigner([secret]).invitation("relationship", "x" * 16, **payload_changes)


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (lambda f: LinkSigner(["z" * 40]).open_link("relationship"), 401),  # another secret
        (lambda f: token_of(f)[:-3] + "abc", 401),  # a changed signature
        (
            lambda f: (
                base64.urlsafe_b64encode(b'{"s":"support","k":"o","e":null,"v":1}')
                .decode()
                .rstrip("=")
                + "."
                + token_of(f).split(".")[1]
            ),
            401,
        ),  # a changed payload
        (lambda f: _forge(f, expires=int(time.time()) - 1), 410),  # expired
        (
            lambda f: LinkSigner([load_service_settings(f).signing_key]).open_link(
                "relationship", version=0
            ),
            410,
        ),  # an open link replaced by a newer version
        (lambda f: LinkSigner([load_service_settings(f).signing_key]).open_link("gone"), 410),
    ],
)
def test_forged_tampered_expired_and_revoked_links_are_refused(served, make, status):
    folder, server = served
    r = _post(server, {"token": make(folder), "nps": 9})
    assert r.status_code == status, r.text
    page = httpx.get(f"{server.url}/s/{make(folder)}")
    assert page.status_code == status and "<form" not in page.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"nps": 11}, "nps"),
        ({"nps": "9"}, "nps"),
        ({"nps": 9, "colour": "red"}, "colour"),
        ({"nps": 9, "rating_delivery": 1.5}, "rating_delivery"),
        ({"csat": 4}, "csat"),  # the survey does not ask CSAT
        ({"comment": "no score"}, "give at least one score"),
        ({"nps": 9, "comment": "x" * 5001}, "longer than 5000"),
        ({"nps": 9, "rating_speed": 3}, "rating_speed"),
    ],
)
def test_bad_answers_are_422_naming_the_field(served, body, field):
    folder, server = served
    r = _post(server, {"token": token_of(folder), **body})
    assert r.status_code == 422 and field in r.text, r.text


def test_malformed_bodies_are_4xx_never_5xx(served):
    folder, server = served
    url = server.url + "/api/v1/responses"
    assert httpx.post(url, content=b"{not json").status_code == 422
    assert httpx.post(url, content=b'{"token": "\\ud800", "nps": 1}').status_code in (401, 422)
    assert httpx.post(url, content=b"\xff\xfe").status_code == 422
    big = httpx.post(url, content=b"{" + b" " * 70_000 + b"}")
    assert big.status_code == 413
    assert httpx.post(url, json=[1, 2]).status_code == 422
    lone = '{"token": "' + token_of(folder) + '", "nps": 1, "comment": "\\ud800"}'
    assert httpx.post(url, content=lone.encode()).status_code == 422


# -- the admin API -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def api_key(served):
    folder, _ = served
    r = cli("apikey", "create", "--name", "tests", "-w", str(folder))
    assert r.returncode == 0
    return r.stdout.split()[-1]  # printed once, as the last word


def test_admin_routes_need_a_live_key(served, api_key):
    folder, server = served
    for path in ("/api/v1/responses", "/api/v1/scorecard", "/api/v1/cases", "/api/v1/surveys"):
        assert httpx.get(server.url + path).status_code == 401
        bad = httpx.get(server.url + path, headers={"Authorization": "Bearer cxr_nope"})
        assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
        ok = httpx.get(server.url + path, headers={"Authorization": f"Bearer {api_key}"})
        assert ok.status_code == 200, (path, ok.text)
    spare = cli("apikey", "create", "--name", "spare", "-w", str(folder)).stdout.split()[-1]
    key_id = spare.split("_")[1]
    assert cli("apikey", "revoke", key_id, "-w", str(folder)).returncode == 0
    assert (
        httpx.get(
            server.url + "/api/v1/cases", headers={"Authorization": f"Bearer {spare}"}
        ).status_code
        == 401
    )
    listed = cli("apikey", "list", "-w", str(folder), "--format", "json").stdout
    assert spare not in listed and api_key not in listed


def test_admin_results_are_the_librarys(served, api_key):
    folder, server = served
    auth = {"Authorization": f"Bearer {api_key}"}
    tok = token_of(folder)
    for nps in (3, 10):
        _post(server, {"token": tok, "nps": nps, "comment": "ring 020 7946 0958"})
    wait_for(lambda: httpx.get(server.url + "/healthz").json()["waiting"] == 0)  # all moved
    got = httpx.get(server.url + "/api/v1/scorecard?metric=nps&period=quarter", headers=auth).json()
    from cxroi.analyses import scorecard

    with Workspace.open(folder, read_only=True) as ws:
        want = scorecard(ws, period="quarter", metrics=["nps"]).to_dict()
    assert got["tables"] == want["tables"]
    rs = httpx.get(server.url + "/api/v1/responses?limit=1000", headers=auth).json()
    assert rs["params"]["total"] == len(_store(folder, "responses"))
    assert "[PHONE]" in json.dumps(rs) and "7946" not in json.dumps(rs)
    bad = httpx.get(server.url + "/api/v1/scorecard?since=someday", headers=auth)
    assert bad.status_code == 422 and "since" in bad.text


def test_openapi_describes_the_answer_body(served):
    _, server = served
    spec = httpx.get(server.url + "/openapi.json").json()
    post = spec["paths"]["/api/v1/responses"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    nps = next(a for a in schema["properties"]["nps"]["anyOf"] if a["type"] == "integer")
    assert schema["required"] == ["token"] and (nps["minimum"], nps["maximum"]) == (0, 10)
    assert {"401", "409", "410", "413", "422"} <= set(post["responses"])
    assert httpx.get(server.url + "/docs").status_code == 404  # no CDN-loaded docs page


# -- what every answer carries, and what the log does not -----------------------------------------
def test_security_headers_and_a_log_without_tokens(served, invited):
    folder, server = served
    r = httpx.get(server.url + "/s/" + invited.loc["C1", "token"])
    csp = r.headers["content-security-policy"]
    assert (
        "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    )
    assert (
        r.headers["referrer-policy"] == "no-referrer" and r.headers["cache-control"] == "no-store"
    )
    assert r.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(server.url + "/static/survey.css").status_code == 200
    log = server.log.read_text()
    assert "GET /s/… 200" in log
    assert invited.loc["C1", "token"] not in log and not re.search(r"/s/eyJ", log)
    secret = load_service_settings(folder).signing_key
    assert secret not in log


def test_read_commands_work_while_the_service_writes(served):
    folder, server = served
    tok, stop, codes = token_of(folder), threading.Event(), []

    def write():
        with httpx.Client() as c:
            while not stop.is_set():
                codes.append(
                    c.post(
                        server.url + "/api/v1/responses", json={"token": tok, "nps": 7}
                    ).status_code
                )

    t = threading.Thread(target=write)
    t.start()
    try:
        counts = []
        for _ in range(3):
            r = cli("scorecard", "-w", str(folder), "-m", "nps", "--format", "json")
            assert r.returncode == 0, r.stderr
            counts.append(len(_store(folder, "responses")))
            time.sleep(0.5)
    finally:
        stop.set()
        t.join()
    assert set(codes) == {201} and len(codes) > 20
    assert counts == sorted(counts) and counts[-1] > counts[0]  # it kept moving answers in


def test_a_rate_limited_server_says_429_with_retry_after(tmp_path):
    folder = make_workspace(tmp_path / "ws")
    with Server(folder, "--rate-limit", "5") as server:
        codes = [httpx.get(server.url + "/api/v1/cases").status_code for _ in range(7)]
        assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
        r = httpx.get(server.url + "/api/v1/cases")
        assert int(r.headers["retry-after"]) >= 1
        assert httpx.get(server.url + "/healthz").status_code == 200  # never limited


def test_sigterm_moves_every_waiting_answer_into_the_store(tmp_path):
    folder = make_workspace(tmp_path / "ws", service="flush_interval = 3600\n")
    toml = folder / "cxroi.toml"
    toml.write_text(toml.read_text().replace("flush_interval = 0.3\n", ""))
    server = Server(folder, "--rate-limit", "0").start()
    tok = token_of(folder)
    ids = {_post(server, {"token": tok, "nps": i % 11}).json()["response_id"] for i in range(50)}
    assert len(_store(folder, "responses")) == 0  # still in the journal
    assert server.stop() == 0
    assert set(_store(folder, "responses")["response_id"]) == ids


def test_a_default_secret_is_refused_before_anything_listens(tmp_path):
    folder = make_workspace(tmp_path / "ws")
    toml = folder / "cxroi.toml"
    toml.write_text(re.sub(r'secret_key = ".*"', 'secret_key = "change-me"', toml.read_text()))
    r = cli("serve", "-w", str(folder), "--port", "1")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("error: cxroi.toml [service] secret_key")
    r = cli("survey", "link", "relationship", "-w", str(folder))
    assert r.returncode == 2 and "secret_key" in r.stderr
