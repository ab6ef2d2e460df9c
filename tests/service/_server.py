"""Test helpers: a real ``cxroi serve`` process, a webhook receiver, a workspace to serve."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pandas as pd

from cxroi.service.surveys import Survey, add_survey
from cxroi.store import Workspace

WEBHOOK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # test-only, base64 of 24 bytes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_workspace(path: Path, *, service: str = "", cases: str = "") -> Path:
    """A workspace with three customers, a relationship survey (NPS, comment, a delivery
    rating, English and German) and the given ``[service]``/``[cases]`` lines."""
    with Workspace.init(path) as ws:
        ws.ingest(
            "customers",
            pd.DataFrame(
                {"customer_id": ["C1", "C2", "C3"], "plan": ["basic", "premium", "basic"]}
            ),
        )
    add_survey(
        path,
        Survey(
            "relationship",
            company="Acme",
            questions=("nps", "comment"),
            ratings=("delivery",),
            languages=("en", "de"),
        ),
    )
    add_survey(path, Survey("support", touchpoint="support_chat", questions=("csat", "ces")))
    toml = path / "cxroi.toml"
    text = toml.read_text()
    text = text.replace("[service]\n", "[service]\nflush_interval = 0.3\n" + service)
    if cases:
        text += "\n[cases]\n" + cases
    toml.write_text(text)
    return path


class Server:
    """``python -m cxroi.cli serve`` on a free port, in its own process group."""

    def __init__(self, folder: Path, *args: str, workers: int = 1):
        self.folder, self.port = folder, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            "serve",
            "-w",
            str(folder),
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            *args,
        ]
        self.proc: subprocess.Popen | None = None
        self.log = folder / f"serve-{self.port}.log"

    def start(self, timeout: float = 30) -> Server:
        with open(self.log, "ab") as out:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cxroi.cli", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited: {self.log.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"serve did not get ready: {self.log.read_text()}")

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, wait; returns the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill9(self) -> None:
        """``kill -9`` of the whole process group (supervisor and workers)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()


class Receiver:
    """A webhook receiver on a free port: records every request; answers ``statuses`` in
    turn (then 204)."""

    def __init__(self, statuses: list[int] | None = None):
        self.requests: list[tuple[dict, bytes]] = []
        self.statuses = list(statuses or [])
        me = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["content-length"]))
                me.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(me.statuses.pop(0) if me.statuses else 204)
                self.end_headers()

            def log_message(self, *a: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.shutdown()
        self.http.server_close()

    def wait(self, n: int, timeout: float = 30) -> list[tuple[dict, bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.requests


def wait_for(check, timeout: float = 30, step: float = 0.1):  # noqa: ANN001
    """Poll ``check()`` until it returns something other than ``None``, ``False`` or empty."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got is not None and got is not False and (not hasattr(got, "__len__") or len(got)):
            return got
        time.sleep(step)
    raise AssertionError("timed out waiting")


def cli(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``cxroi ARGS`` in a fresh process (as a user would)."""
    return subprocess.run(
        [sys.executable, "-m", "cxroi.cli", *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=120,
    )


def token_of(folder: Path, survey: str = "relationship") -> str:
    r = cli("survey", "link", survey, "-w", str(folder), "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["token"]
