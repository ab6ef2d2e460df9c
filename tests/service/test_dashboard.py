"""The dashboard over HTTP against a real ``cxroi serve``: sign-in, roles, CSRF, cookies, the
CSP, CSV export, the JSON twins, comments rendered as text, and pages that follow the data."""

from __future__ import annotations

import re

import httpx
import pytest

from cxroi.store import Workspace
from tests.service._server import Server, cli, token_of, wait_for

PASSWORDS = {"vic": "viewer password 1", "ana": "analyst password 1", "ada": "admin password 12"}
ROLES = {"vic": "viewer", "ana": "analyst", "ada": "admin"}
PAGES = (
    "overview",
    "scorecard",
    "voice",
    "drivers",
    "lifetime",
    "opportunities",
    "initiatives",
    "journey",
    "cases",
)


OPEN: list[httpx.Client] = []


def client(server, **kw) -> httpx.Client:
    """A client closed when the module's server stops."""
    c = httpx.Client(base_url=server.url, follow_redirects=False, timeout=300, **kw)
    OPEN.append(c)
    return c


@pytest.fixture(scope="module")
def server(demo_folder):
    for name, role in ROLES.items():
        r = cli(
            "user",
            "add",
            name,
            "--role",
            role,
            "--password-stdin",
            "-w",
            str(demo_folder),
            input=PASSWORDS[name] + "\n",
        )
        assert r.returncode == 0, r.stderr
    with Server(demo_folder, "--rate-limit", "0") as s:
        yield s
    while OPEN:
        OPEN.pop().close()


def login(server, name: str, **headers: str) -> httpx.Client:
    c = client(server, headers=headers)
    form = c.get("/dashboard/login")
    token = re.search(r'name="token" value="([^"]+)"', form.text).group(1)
    r = c.post(
        "/dashboard/login",
        data={
            "username": name,
            "password": PASSWORDS[name],
            "token": token,
            "next": "/dashboard/overview",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/overview", r.text
    return c


def csrf(page_html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page_html).group(1)


def test_an_anonymous_visitor_is_sent_to_sign_in(server):
    c = client(server)
    r = c.get("/dashboard/voice")
    assert (
        r.status_code == 303 and r.headers["location"] == "/dashboard/login?next=/dashboard/voice"
    )
    assert c.get("/dashboard/voice/export.csv?result=themes").status_code == 303
    assert c.get("/api/v1/pages/overview").status_code == 401
    assert c.post("/dashboard/cases/x/close", data={"csrf": "x", "value": "y"}).status_code == 303


def test_a_wrong_password_or_a_forged_sign_in_form_gets_nowhere(server):
    c = client(server)
    form = c.get("/dashboard/login")
    token = re.search(r'name="token" value="([^"]+)"', form.text).group(1)
    bad = c.post(
        "/dashboard/login", data={"username": "ana", "password": "wrong password!", "token": token}
    )
    assert bad.status_code == 303 and "error=1" in bad.headers["location"]
    assert "cxroi_session" not in bad.headers.get("set-cookie", "")
    other = client(server)  # no login cookie
    forged = other.post(
        "/dashboard/login", data={"username": "ana", "password": PASSWORDS["ana"], "token": token}
    )
    assert forged.status_code == 403


def test_session_cookies_are_httponly_strict_and_secure_behind_tls(server):
    c = client(server)
    for proto, secure in (("http", False), ("https", True)):
        form = c.get("/dashboard/login")
        token = re.search(r'name="token" value="([^"]+)"', form.text).group(1)
        r = c.post(
            "/dashboard/login",
            headers={"x-forwarded-proto": proto},
            data={"username": "vic", "password": PASSWORDS["vic"], "token": token},
        )
        set_cookie = r.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=strict" in set_cookie
        assert ("; secure" in set_cookie) is secure


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_for_a_viewer_with_a_strict_csp(server, page):
    c = login(server, "vic")
    r = c.get(f"/dashboard/{page}")
    assert r.status_code == 200, r.text[:500]
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe" not in csp
    assert "<script" not in r.text.lower()
    assert "Traceback" not in r.text and "vic (viewer)" in r.text


def test_a_viewer_cannot_reach_admin_or_analyst_actions(server, demo_folder):
    c = login(server, "vic")
    token = csrf(c.get("/dashboard/cases").text)
    assert c.get("/dashboard/users").status_code == 403
    assert (
        c.post(
            "/dashboard/users",
            data={"csrf": token, "username": "eve", "role": "admin", "password": "x" * 20},
        ).status_code
        == 403
    )
    assert c.get("/dashboard/voice/export.csv?result=themes").status_code == 403
    with Workspace.open(demo_folder, read_only=True) as ws:
        cases = ws.table("cases").to_pandas()
    case = cases[cases["status"] == "open"].iloc[0]["case_id"]
    r = c.post(f"/dashboard/cases/{case}/close", data={"csrf": token, "value": "done"})
    assert r.status_code == 403
    assert "Follow up" not in c.get("/dashboard/cases").text  # no forms for a viewer
    assert "eve" not in cli("user", "list", "-w", str(demo_folder)).stdout


def test_an_analyst_exports_csv_and_closes_a_case_with_the_csrf_token(server, demo_folder):
    c = login(server, "ana")
    r = c.get("/dashboard/scorecard/export.csv?result=scorecard&table=scorecard&period=quarter")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines()[0].startswith("period,period_start,metric,value")
    assert "Q" in r.text.splitlines()[1].split(",")[0]  # the filter applied: quarters
    page = c.get("/dashboard/cases").text
    case = re.search(r'/dashboard/cases/([^/"]+)/close', page).group(1)
    assert (
        c.post(f"/dashboard/cases/{case}/close", data={"csrf": "forged", "value": "x"}).status_code
        == 403
    )
    r = c.post(
        f"/dashboard/cases/{case}/close",
        data={"csrf": csrf(page), "value": "called back; mail a.b@example.com"},
    )
    assert r.status_code == 303
    with Workspace.open(demo_folder, read_only=True) as ws:
        row = ws.table("cases").to_pandas().set_index("case_id").loc[case]
    assert row["status"] == "closed" and row["outcome"] == "called back; mail [EMAIL]"
    assert c.get("/dashboard/users").status_code == 403


def test_an_admin_adds_and_removes_users(server, demo_folder):
    c = login(server, "ada")
    token = csrf(c.get("/dashboard/users").text)
    r = c.post(
        "/dashboard/users",
        data={"csrf": token, "username": "bob", "role": "viewer", "password": "bob password 1"},
    )
    assert r.status_code == 303 and "bob" in cli("user", "list", "-w", str(demo_folder)).stdout
    short = c.post(
        "/dashboard/users",
        data={"csrf": token, "username": "eve", "role": "viewer", "password": "short"},
    )
    assert short.status_code == 422 and "12 characters" in short.text
    assert c.post("/dashboard/users/bob/remove", data={"csrf": token}).status_code == 303
    assert "bob" not in cli("user", "list", "-w", str(demo_folder)).stdout


def test_signing_out_ends_the_session(server):
    c = login(server, "vic")
    token = csrf(c.get("/dashboard/overview").text)
    stolen = dict(c.cookies)
    assert c.post("/dashboard/logout", data={"csrf": token}).status_code == 303
    again = client(server, cookies=stolen)
    assert again.get("/dashboard/overview").status_code == 303  # the old cookie is dead


def test_the_json_twin_is_the_page_and_takes_an_api_key(server, demo_folder):
    key = cli("apikey", "create", "--name", "dash", "-w", str(demo_folder)).stdout.split()[-1]
    r = httpx.get(
        server.url + "/api/v1/pages/drivers",
        headers={"Authorization": f"Bearer {key}"},
        timeout=300,
    )
    assert r.status_code == 200
    body = r.json()
    assert body["page"] == "drivers" and set(body["results"]) == {"drivers", "value"}
    c = login(server, "vic")
    html_page = c.get("/dashboard/drivers").text
    for row in body["results"]["drivers"]["tables"][0]["rows"][:3]:
        assert row["driver"] in html_page
    assert c.get("/api/v1/pages/drivers").status_code == 200  # a session works too
    assert (
        httpx.get(
            server.url + "/api/v1/pages/nope", headers={"Authorization": f"Bearer {key}"}
        ).status_code
        == 404
    )


def test_pages_follow_the_data_and_comments_render_as_text(server, demo_folder):
    c = login(server, "vic")
    # a page saved for older data (by a report or another service on the shared demo
    # workspace) comes back marked at first: wait for the page of the data as they are
    before = wait_for(
        lambda: (lambda t: t if "being updated" not in t else None)(
            c.get("/dashboard/overview").text
        ),
        timeout=240,
        step=1,
    )
    evil = "<script>alert('x')</script><img src=x onerror=alert(1)> late again"
    r = httpx.post(
        server.url + "/api/v1/responses",
        json={"token": token_of(demo_folder), "nps": 1, "comment": evil},
    )
    assert r.status_code == 201
    wait_for(lambda: httpx.get(server.url + "/healthz").json()["waiting"] == 0)
    # the data changed: the page it had comes back marked, while the new one is computed
    first = c.get("/dashboard/overview").text
    assert "being updated" in first
    fresh = wait_for(
        lambda: (lambda t: t if "being updated" not in t else None)(
            c.get("/dashboard/overview").text
        ),
        timeout=240,
        step=1,
    )
    assert fresh != before
    voice = c.get("/dashboard/voice?contains=late+again&nps_max=1").text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in voice
    assert "<script>alert" not in voice and "<img src=x" not in voice
