"""Readiness tells the truth about writes; a bad store at start is one line, not a traceback."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
import yaml

from connector.app import create_app
from connector.runtime import build_runtime
from connector.store.sqlite import SqliteStore
from connector.store.sqlite.store import space_shortage
from tests.helpers import make_settings
from tests.test_cli_e2e import HANDOFF

MB = 1_048_576


def _ready(client):  # type: ignore[no-untyped-def]
    return client.get("/readyz")


def test_readyz_fails_while_the_store_cannot_write_and_recovers(tmp_path: Path) -> None:
    runtime = build_runtime(make_settings(tmp_path))
    client = create_app(runtime=runtime).test_client()
    assert isinstance(runtime.store, SqliteStore)
    assert _ready(client).status_code == 200
    writer = runtime.store._writer()
    writer.execute("PRAGMA query_only = ON")  # what a read-only file or folder does to writes
    answer = _ready(client)
    assert answer.status_code == 503 and answer.mimetype == "application/problem+json"
    assert answer.json["type"].endswith("/not-ready") and "readonly" in answer.json["detail"]
    assert client.get("/healthz").status_code == 200  # alive, just not ready
    writer.execute("PRAGMA query_only = OFF")
    assert _ready(client).status_code == 200
    runtime.close()


@pytest.mark.parametrize(
    ("free", "wal", "short"),
    [
        pytest.param(10 * MB, 0, False, id="empty-wal-plenty"),
        pytest.param(8 * MB, 0, False, id="exactly-the-spare"),
        pytest.param(8 * MB - 1, 0, True, id="one-byte-short"),
        pytest.param(20 * MB, 12 * MB, False, id="wal-fits"),
        pytest.param(19 * MB, 12 * MB, True, id="wal-does-not-fit"),
        pytest.param(0, 0, True, id="disk-full"),
    ],
)
def test_space_shortage(free: int, wal: int, short: bool) -> None:
    found = space_shortage(free, wal)
    assert (found is not None) == short
    if found:
        assert f"{free} bytes free" in found and f"WAL's {wal} bytes" in found


def _config(tmp_path: Path, db: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "store": {"path": str(db), "busy_timeout_ms": 100},
                "logging": {"level": "WARNING"},
                # a bot source, so `serve` has no start-up warning to print beside the error
                "sources": {"demo": {"secret": "readiness-test-secret"}},
            }
        )
    )
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [["serve", "--port", "1"], ["outbox", "list"], ["audit", "verify"]],
    ids=["serve", "outbox-list", "audit-verify"],
)
def test_a_corrupt_store_at_start_is_one_line(tmp_path: Path, command: list[str]) -> None:
    db = tmp_path / "handoff.db"
    db.write_bytes(b"this is not a database, it is a shopping list\n" * 200)
    out = subprocess.run(
        [HANDOFF, *command, "--config", str(_config(tmp_path, db))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert (
        lines[0].startswith("error: the store ") and "corrupt or not a SQLite database" in lines[0]
    )


@pytest.mark.slow
def test_a_locked_store_at_start_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "handoff.db"
    SqliteStore(db).migrate()
    outsider = sqlite3.connect(db, isolation_level=None)
    outsider.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    try:
        out = subprocess.run(
            [HANDOFF, "outbox", "list", "--config", str(_config(tmp_path, db))],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        outsider.execute("ROLLBACK")
        outsider.close()
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "stayed locked by another program for 100 ms (store.busy_timeout_ms)" in out.stderr
