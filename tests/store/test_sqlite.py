"""The SQLite store's housekeeping: WAL checkpoints run off the request path, and stop on close."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

from connector.store.sqlite import SqliteStore


def _events_in_file_alone(db: Path, copy: Path) -> int:
    """Rows readable from the database file without its WAL (what a checkpoint has copied in)."""
    shutil.copyfile(db, copy)
    conn = sqlite3.connect(copy)
    try:
        return conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    except sqlite3.OperationalError:  # not even the schema has been checkpointed yet
        return 0
    finally:
        conn.close()


def test_background_checkpoint_copies_the_wal_into_the_database(tmp_path: Path) -> None:
    db = tmp_path / "handoff.db"
    store = SqliteStore(db)
    store.migrate()
    try:
        for i in range(20):
            with store.atomic() as tx:
                tx.put_event(
                    "demo", f"evt-{i}", "conv-1", {"ok": True}, "2026-11-21T10:00:00+00:00"
                )
        # SQLite alone would leave these pages in the WAL (far below wal_autocheckpoint); the
        # store's checkpoint thread copies them into the database file within moments.
        deadline = time.monotonic() + 10
        while _events_in_file_alone(db, tmp_path / "copy.db") < 20:
            assert time.monotonic() < deadline, "the WAL was never checkpointed"
            time.sleep(0.05)
    finally:
        store.close()


def test_close_stops_the_checkpoint_thread(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "handoff.db")
    store.migrate()
    with store.atomic() as tx:
        tx.put_event("demo", "evt-1", "conv-1", {"ok": True}, "2026-11-21T10:00:00+00:00")
    thread = store._checkpointer
    assert thread is not None and thread.is_alive()
    store.close()
    assert not thread.is_alive()

    # used again after close, the store checkpoints again
    with store.atomic() as tx:
        tx.put_event("demo", "evt-2", "conv-1", {"ok": True}, "2026-11-21T10:00:00+00:00")
    again = store._checkpointer
    assert again is not None and again is not thread and again.is_alive()
    store.close()
    assert not again.is_alive()


def test_a_store_that_never_writes_starts_no_thread(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "handoff.db")
    store.migrate()
    with store.reading() as tx:
        assert tx.get_event("demo", "nope") is None
    assert store._checkpointer is None
    store.close()
