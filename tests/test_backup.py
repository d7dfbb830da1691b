"""`handoff backup` and `handoff restore`: consistent under writes, checked, refused when unsafe."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
import requests

from connector import backup as backups
from connector.app import create_app
from connector.runtime import build_runtime
from tests.helpers import dumps, event, make_settings, signed_headers
from tests.test_cli_e2e import HANDOFF, free_port, start, stop, wait_healthy, write_config


def _counts(conn: sqlite3.Connection) -> tuple[int, ...]:
    return tuple(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in backups.COUNTED)


def test_a_backup_taken_while_events_are_written_is_one_point_in_time(tmp_path: Path) -> None:
    runtime = build_runtime(make_settings(tmp_path))
    client = create_app(runtime=runtime).test_client()
    states: list[tuple[int, ...]] = []  # the store's counts after each commit (one writer: exact)
    halt, started = threading.Event(), threading.Event()

    def write() -> None:
        watcher = sqlite3.connect(runtime.settings.store.path)
        states.append(_counts(watcher))
        n = 0
        while not halt.is_set() or n < 20:
            body = dumps(event(f"conv-{n}", f"evt-{n}"))  # every one escalates: many tables written
            assert (
                client.post("/v1/events", data=body, headers=signed_headers(body)).status_code
                == 200
            )
            states.append(_counts(watcher))
            n += 1
            if n == 10:
                started.set()
        watcher.close()

    writer = threading.Thread(target=write)
    writer.start()
    started.wait(30)
    try:
        summaries = [
            backups.backup(runtime.settings.store.path, tmp_path / f"backup-{i}.db")
            for i in range(3)
        ]
    finally:
        halt.set()
        writer.join(60)
    runtime.close()
    for summary in summaries:
        assert summary.chain.ok and summary.chain.rows > 0
        copy = sqlite3.connect(summary.path)
        assert (
            copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        )  # one self-contained file
        assert _counts(copy) in states, (_counts(copy), states[-3:])  # a state the store really had
        copy.close()
    assert not list(tmp_path.glob("*.partial"))


def test_backup_refuses_to_overwrite_and_restore_refuses_what_is_not_a_sound_handoff_store(
    tmp_path: Path,
) -> None:
    runtime = build_runtime(make_settings(tmp_path))
    client = create_app(runtime=runtime).test_client()
    body = dumps(event())
    assert client.post("/v1/events", data=body, headers=signed_headers(body)).status_code == 200
    store = runtime.settings.store.path
    good = tmp_path / "good.db"
    backups.backup(store, good)
    with pytest.raises(backups.BackupError, match="already exists"):
        backups.backup(store, good)
    runtime.close()

    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE recipes (name TEXT)").connection.close()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all\n" * 300)
    edited = tmp_path / "edited.db"
    edited.write_bytes(good.read_bytes())
    conn = sqlite3.connect(edited)
    conn.execute("UPDATE audit SET reason = 'nothing happened' WHERE id = 1")
    conn.commit()
    conn.close()
    for bad, why in [
        (other, "not a handoff store"),
        (junk, "corrupt or not a SQLite database"),
        (edited, "audit chain is broken"),
        (tmp_path / "missing.db", "does not exist"),
    ]:
        with pytest.raises(backups.BackupError, match=why):
            backups.restore(bad, store)
    summary = backups.restore(good, store)  # nothing holds it now
    assert summary.counts["events"] == 1 and summary.chain.ok


@pytest.mark.slow
def test_backup_while_serving_restore_refused_until_stopped(tmp_path: Path, receiver) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    config = write_config(tmp_path, port, receiver.url)
    base = f"http://127.0.0.1:{port}"
    server = start(["serve", "--config", str(config)], tmp_path, "serve")
    try:
        wait_healthy(base, server)
        for n in range(3):
            body = dumps(event(f"conv-{n}", f"evt-{n}"))
            assert (
                requests.post(
                    f"{base}/v1/events", data=body, headers=signed_headers(body), timeout=10
                ).status_code
                == 200
            )
        made = subprocess.run(
            [HANDOFF, "backup", "--config", str(config), str(tmp_path / "b.db")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode == 0, made.stderr
        assert "3 events" in made.stdout and "audit chain OK" in made.stdout
        refused = subprocess.run(
            [HANDOFF, "restore", "--config", str(config), str(tmp_path / "b.db")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
        assert (
            "a running handoff serve or worker holds the store" in refused.stderr
            and "--force" in refused.stderr
        )
        body = dumps(
            event("conv-late", "evt-late")
        )  # written after the backup: gone after the restore
        assert (
            requests.post(
                f"{base}/v1/events", data=body, headers=signed_headers(body), timeout=10
            ).status_code
            == 200
        )
    finally:
        stop(server)
    restored = subprocess.run(
        [HANDOFF, "restore", "--config", str(config), str(tmp_path / "b.db")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert restored.returncode == 0, restored.stderr
    assert "3 events" in restored.stdout
    verify = subprocess.run(
        [HANDOFF, "audit", "verify", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stderr
