"""Faults and hostile input against the real server: ``kill -9`` in the middle of a load loses
no acknowledged answer, and a schema-driven fuzz run finds no 5xx."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time

import httpx
import pytest

from cxroi.service import load_service_settings
from cxroi.service.tokens import LinkSigner, new_invitation_id
from cxroi.store import Workspace
from tests.service._server import Server, cli, make_workspace


def test_kill_9_mid_load_loses_no_acknowledged_answer_and_the_service_restarts(tmp_path):
    folder = make_workspace(tmp_path / "ws")
    signer = LinkSigner(load_service_settings(folder).secret_keys)
    tokens = [
        signer.invitation("relationship", new_invitation_id(), expires=2_000_000_000)
        for _ in range(20_000)
    ]
    server = Server(folder, "--rate-limit", "0", "--no-access-log", workers=2).start()
    acked: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    nxt = iter(tokens)

    def client() -> None:
        with httpx.Client(timeout=5) as c:
            for tok in nxt:
                try:
                    r = c.post(
                        server.url + "/api/v1/responses",
                        json={"token": tok, "nps": 3, "comment": "slow"},
                    )
                except httpx.HTTPError as e:  # the server is gone
                    errors.append(type(e).__name__)
                    return
                if r.status_code == 201:
                    with lock:
                        acked.append(r.json()["response_id"])

    threads = [threading.Thread(target=client) for _ in range(16)]
    for t in threads:
        t.start()
    while len(acked) < 2000:
        time.sleep(0.02)
    server.kill9()  # supervisor and both workers, mid-load
    for t in threads:
        t.join()
    assert errors and len(acked) >= 2000

    again = Server(folder, "--rate-limit", "0").start()  # restarts and serves (moves the rest)
    try:

        def stored() -> set[str]:
            with Workspace.open(folder, read_only=True) as ws:
                return set(ws.table("responses").response_id.execute())

        deadline = time.monotonic() + 60
        while not set(acked) <= stored() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert set(acked) <= stored()  # every 201 survived kill -9
        fresh = signer.invitation("relationship", new_invitation_id(), expires=2_000_000_000)
        r = httpx.post(again.url + "/api/v1/responses", json={"token": fresh, "nps": 9})
        assert r.status_code == 201
    finally:
        again.stop()


@pytest.mark.skipif(
    shutil.which("schemathesis", path=str(sys.prefix) + "/bin") is None,
    reason="schemathesis not installed",
)
def test_a_schema_driven_fuzz_run_finds_no_server_error(tmp_path):
    folder = make_workspace(tmp_path / "ws")
    key = cli("apikey", "create", "--name", "fuzz", "-w", str(folder)).stdout.split()[-1]
    with Server(folder, "--rate-limit", "0", "--no-access-log") as server:
        r = subprocess.run(
            [
                f"{sys.prefix}/bin/schemathesis",
                "run",
                server.url + "/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "60",
                "--seed",
                "17",
                "--header",
                f"Authorization: Bearer {key}",
                "--workers",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )
        assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
        assert "/api/v1/responses" in r.stdout
        log = server.log.read_text()
    assert "Traceback" not in log and "unexpected error" not in log


def test_several_service_processes_share_one_postgres_journal(tmp_path, pg_url):
    """Two `cxroi serve` (two supervisors, two workers each) on one journal in PostgreSQL:
    a link posted to both at once answers once; every answer lands once."""
    from concurrent.futures import ThreadPoolExecutor

    folder = make_workspace(tmp_path / "ws", service=f'journal = "{pg_url}"\n')
    signer = LinkSigner(load_service_settings(folder).secret_keys)
    links = [signer.invitation("relationship", new_invitation_id(), expires=2_000_000_000)
             for _ in range(60)]  # fmt: skip
    a = Server(folder, "--rate-limit", "0", workers=2).start()
    b = Server(folder, "--rate-limit", "0", workers=2).start()
    try:

        def post(args: tuple[str, str]) -> int:
            url, tok = args
            return httpx.post(url + "/api/v1/responses", json={"token": tok, "nps": 5}).status_code

        with ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(post, [(s.url, t) for t in links for s in (a, b)]))
    finally:
        assert a.stop() == 0 and b.stop() == 0
    pairs = [sorted(codes[i : i + 2]) for i in range(0, len(codes), 2)]
    assert pairs == [[201, 409]] * len(links)  # each link answered once, the other a replay
    with Workspace.open(folder, read_only=True) as ws:
        ids = ws.table("responses").response_id.execute()
    assert sorted(ids) == sorted(f"w-{signer.verify(t, now=0).invitation_id}" for t in links)
    assert not (folder / "service.sqlite").exists()  # the journal lived in PostgreSQL
