"""The intake journal: what it accepts, that it groups commits, and that an acknowledged
answer survives ``kill -9``."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from cxroi.service import journal as J
from cxroi.service.journal import (
    IdempotencyConflict,
    Intake,
    Journal,
    JournalUnavailable,
    NotFound,
    TokenUsed,
)


def _intake(rid: str, inv: str | None = None, nps: int = 9) -> Intake:
    return Intake(rid, "rel", None, inv, "en", {"nps": nps})


@pytest.fixture(params=["sqlite", "postgres"])
def journal(request, tmp_path):
    """The journal in each database it can live in (PostgreSQL: the server `make test`
    starts)."""
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    with Journal(tmp_path, url=url) as j:
        yield j


def _rows(j: Journal) -> list[tuple]:
    return j.reader.execute("SELECT response_id, ts, answer FROM intake ORDER BY seq").fetchall()


def test_the_file_is_private(tmp_path):
    with Journal(tmp_path) as j:
        assert stat.S_IMODE(os.stat(j.path).st_mode) == 0o600


def test_an_invitation_creates_once_and_then_changes(journal):
    first = journal.accept(_intake("w-a", "a", nps=2))
    assert (first.status, first.body) == (201, {"response_id": "w-a", "status": "created"})
    with pytest.raises(TokenUsed, match="PUT /api/v1/responses/w-a"):
        journal.accept(_intake("w-a", "a", nps=3))
    changed = journal.accept(_intake("w-a", "a", nps=10), mode="change")
    assert (changed.status, changed.body["status"]) == (200, "changed")
    page = journal.accept(_intake("w-a", "a", nps=8), mode="answer")
    assert page.status == 200
    with pytest.raises(NotFound):
        journal.accept(_intake("w-b", "b"), mode="change")
    rows = _rows(journal)
    assert [r[2] for r in rows] == ['{"nps": 2}', '{"nps": 10}', '{"nps": 8}']
    assert len({r[1] for r in rows}) == 1  # a changed answer keeps the time it was first given
    assert journal.current_answer("a") == ("w-a", {"nps": 8})
    assert journal.answered(["a", "b"]) == {"a"}


def test_an_idempotency_key_repeats_the_first_answer_and_refuses_another_request(journal):
    idem = ("scope", "key-1", "fp-1")
    first = journal.accept(_intake("w-a", "a"), idempotency=idem)
    again = journal.accept(_intake("w-a", "a"), idempotency=idem)
    assert again.replayed and (again.status, again.body) == (first.status, first.body)
    with pytest.raises(IdempotencyConflict):
        journal.accept(_intake("w-a", "a"), idempotency=("scope", "key-1", "fp-2"))
    assert len(_rows(journal)) == 1


def test_one_group_decides_in_arrival_order(journal):
    async def both():
        return await asyncio.gather(
            journal.accept_async(_intake("w-x", "x")),
            journal.accept_async(_intake("w-x", "x")),
            journal.accept_async(_intake("w-y", None), idempotency=("s", "k", "f")),
            journal.accept_async(_intake("w-z", None), idempotency=("s", "k", "f")),
            return_exceptions=True,
        )

    a, b, c, d = asyncio.run(both())
    assert a.status == 201 and isinstance(b, TokenUsed)
    assert c.status == 201 and d.replayed and d.body == c.body
    assert [r[0] for r in _rows(journal)] == ["w-x", "w-y"]


def test_commits_are_grouped(journal, monkeypatch):
    commits = []
    real = Journal._commit
    monkeypatch.setattr(
        Journal,
        "_commit",
        lambda self, con, batch: (commits.append(len(batch)), real(self, con, batch)),
    )

    async def many():
        await asyncio.gather(
            *(journal.accept_async(_intake(f"w-{i}", f"i{i}")) for i in range(2000))
        )

    asyncio.run(many())
    assert sum(commits) == 2000 and len(_rows(journal)) == 2000
    assert len(commits) < 200  # 2,000 answers waiting at once share a few commits


def test_a_failed_commit_fails_its_whole_group_and_writes_nothing(journal, monkeypatch):
    journal.accept(_intake("w-0"))

    def broken(self):
        self.con.execute(
            "INSERT INTO intake (response_id, ts, received_at, survey, answer) "
            "VALUES ('half', '', '', '', '{}')"
        )
        raise journal.db.Error("disk I/O error")

    monkeypatch.setattr(J._Group, "write", broken)
    with pytest.raises(JournalUnavailable, match="could not commit: disk I/O error"):
        journal.accept(_intake("w-1"))
    assert [r[0] for r in _rows(journal)] == ["w-0"]  # the half-written row rolled back
    monkeypatch.undo()
    assert journal.accept(_intake("w-2")).status == 201  # the writer goes on


def test_a_stopped_journal_refuses_at_once(tmp_path):  # the writer, whatever the database
    j = Journal(tmp_path)
    with pytest.raises(JournalUnavailable, match="not running"):
        j.accept(_intake("w-a"))
    j.close()


def test_idempotency_keys_are_pruned_by_age(journal):
    journal.accept(_intake("w-a"), idempotency=("s", "k", "f"))
    assert journal.prune_idempotency(J.utcnow() - dt.timedelta(days=1)) == 0
    assert journal.prune_idempotency(J.utcnow() + dt.timedelta(seconds=1)) == 1


ACK_SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from cxroi.service.journal import Intake, Journal
    j = Journal(sys.argv[1], url=sys.argv[2] or None); j.start()
    async def one(i):
        a = await j.accept_async(Intake(f"w-{i}", "rel", None, f"i{i}", None, {"nps": i % 11}))
        print(a.body["response_id"], flush=True)   # acknowledged only after the commit
    async def main():
        sem, i = asyncio.Semaphore(32), 0
        while True:
            await sem.acquire()
            asyncio.create_task(one(i)).add_done_callback(lambda _: sem.release())
            i += 1
    asyncio.run(main())
""")


@pytest.mark.parametrize("where", ["sqlite", "postgres"])
def test_every_acknowledged_answer_survives_kill_9(request, tmp_path, where):
    url = request.getfixturevalue("pg_url") if where == "postgres" else ""
    script = tmp_path / "ack.py"
    script.write_text(ACK_SCRIPT)
    p = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), url], stdout=subprocess.PIPE, text=True
    )
    acked = []
    assert p.stdout is not None
    with p.stdout:
        for line in p.stdout:
            acked.append(line.strip())
            if len(acked) >= 3000:
                break
        p.send_signal(signal.SIGKILL)
        p.wait()
        acked += [line.strip() for line in p.stdout.read().splitlines() if line.strip()]
    with Journal(tmp_path, url=url or None) as j:  # a fresh process's view
        stored = {r[0] for r in j.reader.execute("SELECT response_id FROM intake")}
    assert len(acked) >= 3000
    assert set(acked) <= stored  # nothing acknowledged is lost
    assert len(stored) - len(set(acked)) <= 2 * J.MAX_GROUP  # at most the commits in flight
