"""Writers of different processes take turns on ``<database>.writers`` (``connector/store/sqlite/queue.py``).

Other processes here are real ones holding the real lock file.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from connector.app import create_app
from connector.errors import StoreBusy
from connector.runtime import build_runtime
from connector.store.sqlite import SqliteStore
from connector.store.sqlite.queue import WriterQueue
from tests.helpers import dumps, event, make_settings, signed_headers

HOLD = (
    "import fcntl, os, sys\n"
    "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
    "fcntl.flock(fd, fcntl.LOCK_EX)\n"
    "print('held', flush=True)\n"
    "sys.stdin.readline()\n"
)
PROBE = (
    "import fcntl, os, sys\n"
    "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
    "try:\n"
    "    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
    "    print('free')\n"
    "except BlockingIOError:\n"
    "    print('taken')\n"
)


@contextmanager
def held_by_another_process(lock_file: str) -> Iterator[subprocess.Popen]:
    """Another process holds the writers' lock until the block ends."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, lock_file],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
            yield proc
        finally:
            proc.communicate("\n", timeout=10)  # it reads the line and exits: the lock goes with it


def seen_from_another_process(lock_file: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", PROBE, lock_file], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_a_writer_waits_for_the_other_process_and_goes_when_it_is_done(tmp_path: Path) -> None:
    queue = WriterQueue(tmp_path / "h.db")
    got = threading.Event()
    with held_by_another_process(queue.path):
        waiter = threading.Thread(target=lambda: (queue.acquire(30), got.set()))
        waiter.start()
        waiter.join(0.3)
        assert not got.is_set()  # still the other process's turn
    waiter.join(30)
    assert got.is_set()
    assert seen_from_another_process(queue.path) == "taken"  # the helper's turn is this writer's
    queue.release()
    assert seen_from_another_process(queue.path) == "free"
    queue.acquire(1)  # uncontended: straight through
    queue.release()
    queue.close()


def test_giving_up_at_the_busy_timeout_leaves_no_lock_behind(tmp_path: Path) -> None:
    queue = WriterQueue(tmp_path / "h.db")
    with held_by_another_process(queue.path), pytest.raises(StoreBusy, match="over 0.2 s"):
        queue.acquire(0.2)
    # the helper got the lock after the other process left, for nobody: it gave it back
    for _ in range(200):
        if seen_from_another_process(queue.path) == "free":
            break
    else:
        raise AssertionError("the abandoned turn was never released")
    queue.acquire(1)
    assert seen_from_another_process(queue.path) == "taken"
    queue.release()
    queue.close()


def test_an_event_gets_503_with_retry_after_while_another_process_writes(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, store={"busy_timeout_ms": 200})
    runtime = build_runtime(settings)
    client = create_app(runtime=runtime).test_client()
    raw = dumps(event())
    assert isinstance(runtime.store, SqliteStore)
    with held_by_another_process(str(settings.store.path) + ".writers"):
        busy = client.post("/v1/events", data=raw, headers=signed_headers(raw))
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
        assert busy.mimetype == "application/problem+json" and busy.json["type"].endswith(
            "/store-busy"
        )
        with runtime.store.reading() as tx:  # readers are never queued
            assert tx.get_event("demo", "evt-1") is None and tx.list_handoffs() == []
    again = client.post("/v1/events", data=raw, headers=signed_headers(raw))
    assert again.status_code == 200 and again.json["duplicate"] is False
    with runtime.store.reading() as tx:
        assert len(tx.list_handoffs()) == 1
    runtime.close()


def test_sqlites_own_lock_held_past_the_busy_timeout_is_store_busy_too(tmp_path: Path) -> None:
    """A writer outside the queue (an older version, the sqlite3 shell) holds SQLite's lock."""
    import sqlite3

    store = SqliteStore(tmp_path / "h.db", busy_timeout_ms=100)
    store.migrate()
    outsider = sqlite3.connect(tmp_path / "h.db", isolation_level=None)
    outsider.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreBusy, match="stayed locked for 100 ms"), store.atomic():
        pass
    outsider.execute("ROLLBACK")
    outsider.close()
    with store.atomic() as tx:  # the queue's turn was given back with the failed transaction
        assert tx.get_event("demo", "nope") is None
    store.close()


def test_a_full_store_answers_503_store_unavailable_and_recovers(tmp_path: Path) -> None:
    """SQLite's own SQLITE_FULL (``max_page_count`` reached), failing inside the transaction."""
    settings = make_settings(tmp_path)
    runtime = build_runtime(settings)
    client = create_app(runtime=runtime).test_client()
    assert isinstance(runtime.store, SqliteStore)
    first = dumps(event("conv-1", "evt-1"))
    assert client.post("/v1/events", data=first, headers=signed_headers(first)).status_code == 200
    writer = runtime.store._writer()
    pages = writer.execute("PRAGMA page_count").fetchone()[0]
    writer.execute(f"PRAGMA max_page_count = {pages}")  # no room for one more page
    big = [{"id": f"m{i}", "role": "customer", "text": f"line {i} " + "x" * 4000} for i in range(8)]
    raw = dumps(
        event(
            "conv-2",
            "evt-2",
            messages=[
                *big,
                {"id": "m9", "role": "customer", "text": "I want to talk to a real person."},
            ],
        )
    )
    full = client.post("/v1/events", data=raw, headers=signed_headers(raw))
    assert full.status_code == 503 and full.headers["Retry-After"] == "30"
    assert full.mimetype == "application/problem+json" and full.json["type"].endswith(
        "/store-unavailable"
    )
    assert "database or disk is full" in full.json["detail"]
    with runtime.store.reading() as tx:  # all or nothing
        assert tx.get_event("demo", "evt-2") is None and tx.get_conversation("conv-2") is None
        assert len(tx.list_handoffs()) == 1
    writer.execute("PRAGMA max_page_count = 4294967294")  # room again: the bot's retry goes through
    again = client.post("/v1/events", data=raw, headers=signed_headers(raw))
    assert again.status_code == 200 and again.json["duplicate"] is False
    with runtime.store.reading() as tx:
        assert len(tx.list_handoffs()) == 2
    runtime.close()
