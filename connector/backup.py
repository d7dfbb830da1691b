"""Online backup and restore of the SQLite store (``handoff backup FILE``, ``handoff restore FILE``).

A backup goes through SQLite's online backup API: one consistent snapshot of the store as of a
single committed transaction, taken while the server keeps serving and writing (WAL readers never
block writers). The copy is written beside its destination, switched to a self-contained
rollback-journal file, checked (``quick_check``, the migrations it carries, the audit chain) and
only then renamed into place, so a backup file that exists is a good one.

A restore checks the file the same way before it touches anything, then copies it into the
store's own path through the backup API as well, page by page under SQLite's locks, so the WAL
and shared-memory files stay coherent. It refuses while a running ``handoff serve`` or ``handoff
worker`` holds the store (each holds a shared ``flock`` on ``<store>.serving`` for its lifetime,
``hold``) unless forced; afterwards the store is migrated to this version and its audit chain
verified again.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from connector import audit
from connector.errors import HandoffError
from connector.store.sqlite import SqliteStore
from connector.store.sqlite.migrations import MIGRATIONS
from connector.store.sqlite.tx import SqliteTx

COUNTED = ("conversations", "messages", "events", "handoffs", "outbox", "audit")


class BackupError(HandoffError):
    """A backup or restore that cannot be done; the message is the CLI's one line."""


@dataclass
class Summary:
    """What a store file holds: row counts, its audit chain, its migrations."""

    path: str
    counts: dict[str, int]
    chain: audit.Verification
    migrations: list[str]

    def line(self) -> str:
        rows = ", ".join(f"{n} {t}" for t, n in self.counts.items())
        return f"{rows}; audit chain OK, head {self.chain.head or '-'}"


def hold(store_path: str) -> int:
    """Take the shared "a server uses this store" lock; keep the descriptor open while serving.

    Only a SQLite store has a file to lock: for another store (``store_path`` empty) it is -1."""
    if not store_path:
        return -1
    fd = os.open(_serving(store_path), os.O_RDONLY | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def _serving(store_path: str) -> str:
    return str(Path(store_path).expanduser()) + ".serving"


def inspect(path: str | Path) -> Summary:
    """Check that ``path`` is a sound handoff store whose audit chain verifies; ``BackupError`` if not."""
    if not Path(path).is_file():
        raise BackupError(f"{path} does not exist")
    try:
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"{path} cannot be opened: {exc}") from exc
    try:
        conn.row_factory = sqlite3.Row
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"{path} is damaged: {check}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "_migrations" not in tables or not set(COUNTED) <= tables:
            raise BackupError(f"{path} is a SQLite database but not a handoff store")
        applied = [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY name")]
        unknown = sorted(set(applied) - {name for name, _ in MIGRATIONS})
        if unknown:
            raise BackupError(
                f"{path} comes from a newer handoff-connector (migrations {', '.join(unknown)})"
            )
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in COUNTED}
        chain = audit.verify(SqliteTx(conn).list_audit())
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is corrupt or not a SQLite database: {exc}") from exc
    finally:
        conn.close()
    if not chain.ok:
        raise BackupError(f"{path}: the audit chain is broken ({'; '.join(chain.problems[:3])})")
    return Summary(str(path), counts, chain, applied)


def backup(store_path: str, dest: str | Path) -> Summary:
    """Copy the store to ``dest`` (which must not exist) as one consistent snapshot, and check it."""
    dest = Path(dest)
    if dest.exists():
        raise BackupError(f"{dest} already exists; back up to a new file")
    if not Path(store_path).expanduser().is_file():
        raise BackupError(f"the store {store_path} does not exist")
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        source = sqlite3.connect(
            f"file:{Path(store_path).expanduser().resolve()}?mode=ro", uri=True
        )
        target = sqlite3.connect(partial)
        try:
            source.backup(target)  # all pages in one step: one read transaction, one snapshot
            target.execute(
                "PRAGMA journal_mode=DELETE"
            )  # one self-contained file, no -wal beside it
        finally:
            target.close()
            source.close()
        summary = inspect(partial)
        partial.rename(dest)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup of {store_path} failed: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    summary.path = str(dest)
    return summary


def restore(backup_file: str | Path, store_path: str, *, force: bool = False) -> Summary:
    """Replace the store's contents with ``backup_file`` after checking both, as the module says."""
    wanted = inspect(backup_file)
    Path(store_path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(_serving(store_path), os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not force:
                raise BackupError(
                    f"a running handoff serve or worker holds the store {store_path}; stop "
                    "it first (or pass --force to restore under it)"
                ) from None
        source = sqlite3.connect(f"file:{Path(backup_file).resolve()}?mode=ro", uri=True)
        target = sqlite3.connect(Path(store_path).expanduser(), timeout=30)
        try:
            source.backup(target)
        except sqlite3.Error as exc:
            raise BackupError(f"restore into {store_path} failed: {exc}") from exc
        finally:
            target.close()
            source.close()
    finally:
        os.close(fd)  # releases the exclusive lock before the store below takes its own turn
    store = SqliteStore(store_path)
    try:
        store.migrate()  # a backup from an older version is brought up to this one
        chain = audit.verify(store.iter_audit())
        with store.reading() as tx:
            counts = {
                t: tx.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in COUNTED
            }  # type: ignore[attr-defined]
    finally:
        store.close()
    if not chain.ok or counts != wanted.counts:
        raise BackupError(
            f"the restored store {store_path} does not match {backup_file}: "
            f"{counts} vs {wanted.counts}; audit {'OK' if chain.ok else 'broken'}"
        )
    return Summary(store_path, counts, chain, wanted.migrations)
