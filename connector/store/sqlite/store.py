"""``SqliteStore``: the default store, one file, WAL; its queries are ``SqliteTx`` (``tx.py``), its
schema the migrations in ``migrations.py``, its wake-up of workers ``SqliteWaker`` (``waker.py``).

Its URL is ``sqlite:///`` followed by the file's path as given: ``sqlite:///handoff.db`` is relative
to the working directory, ``sqlite:////var/lib/handoff/handoff.db`` absolute.

Each thread reads through its own connection. Writers of one process take turns on a Python lock
and write through one shared connection (which keeps its page cache warm); writers of different
processes take turns on a file lock (``queue.py``), waiting up to ``busy_timeout_ms``; each
write transaction then takes the database's write lock at ``BEGIN IMMEDIATE``, so a transaction's
reads and writes are one atomic step even across processes. Readers never block under WAL. A
background thread checkpoints the WAL, so no request pays for copying it back into the database.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from connector.errors import ConfigError, StoreBusy, StoreUnavailable
from connector.store.base import Store, Tx
from connector.store.sqlite import migrations
from connector.store.sqlite.queue import WriterQueue
from connector.store.sqlite.tx import SqliteTx
from connector.store.sqlite.waker import SqliteWaker

if TYPE_CHECKING:
    from connector.store_config import StoreSettings

logger = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_SECONDS = 0.25  # how often the background thread checkpoints a written WAL
WAL_SAFETY_PAGES = 20_000  # SQLite checkpoints in a commit only if the WAL outgrows this (~80 MB)
SPARE_BYTES = 8 * 1_048_576  # free disk space /readyz wants beyond the WAL's size

# Primary result codes that mean the file cannot take a write now; retrying later may succeed.
_CANNOT_WRITE = {
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_CANTOPEN,
}


def _cannot_write(exc: sqlite3.Error) -> StoreUnavailable | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None or code & 0xFF not in _CANNOT_WRITE:
        return None
    return StoreUnavailable(f"the store cannot write ({exc}); nothing was stored, try again later")


URL_PREFIX = "sqlite:///"


def space_shortage(free_bytes: int, wal_bytes: int) -> str | None:
    """Why ``free_bytes`` beside the store are too few, or None.

    A checkpoint copies the WAL into the database file, which may grow by as much: with less free
    space than the WAL's size (plus ``SPARE_BYTES`` for the next writes) the store fills up.
    """
    needed = wal_bytes + SPARE_BYTES
    if free_bytes >= needed:
        return None
    return (
        f"has {free_bytes} bytes free on its disk; it needs at least {needed} "
        f"(the WAL's {wal_bytes} bytes plus {SPARE_BYTES}): free some space"
    )


def _cannot_open(path: str, exc: sqlite3.Error, busy_timeout_ms: int) -> StoreUnavailable:
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "not a database" in str(exc):
        reason = "is corrupt or not a SQLite database; restore a backup (handoff restore FILE)"
    elif code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(exc):
        reason = (
            f"stayed locked by another program for {busy_timeout_ms} ms (store.busy_timeout_ms)"
        )
    elif code in _CANNOT_WRITE:
        reason = "cannot be written (read-only file or folder, or disk full)"
    else:
        reason = "cannot be opened"
    return StoreUnavailable(f"the store {path} {reason}: {exc}")


class SqliteStore(Store):
    name = "sqlite"

    @classmethod
    def check_url(cls, url: str) -> list[tuple[str, str]]:
        if not url.startswith(URL_PREFIX) or not url[len(URL_PREFIX) :]:
            return [
                (
                    "store.url",
                    f"{url!r} is not a SQLite URL: write sqlite:///relative/path.db or "
                    "sqlite:////absolute/path.db",
                )
            ]
        return []

    @classmethod
    def from_url(cls, url: str, settings: StoreSettings) -> SqliteStore:
        problems = cls.check_url(url)
        if problems:
            raise ConfigError(problems)
        return cls(url[len(URL_PREFIX) :], busy_timeout_ms=settings.busy_timeout_ms)

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 10_000):
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # Writers in this process queue here rather than on SQLite's lock: SQLite's busy handler
        # sleeps in steps of milliseconds, which collapses throughput under concurrent writes.
        self._write_lock = threading.Lock()
        self._write_conn: sqlite3.Connection | None = None
        # Events of this process take turns from read to write (``turns``); re-entrant, so an
        # event handled inside another one's turn (a test's race) does not wait for itself.
        self._turns = threading.RLock()
        self._writes = 0  # write transactions committed since the last background checkpoint
        self._stopped = threading.Event()
        self._checkpointer: threading.Thread | None = None
        # Other processes' writers (a separate `handoff worker`) queue with ours in the kernel.
        self._queue = WriterQueue(self.path) if self.path != ":memory:" else None
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,
            timeout=self.busy_timeout_ms / 1000,
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        # Checkpoints run on a background thread (``_checkpoint_loop``); this is the safety net
        # that bounds the WAL should that thread fall behind.
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_SAFETY_PAGES}")
        conn.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            self._all.append(conn)
        return conn

    def _writer(self) -> sqlite3.Connection:
        """The one connection this process writes through (writers take turns on the lock anyway).

        One writer keeps its page cache: a connection discards its cache whenever another one
        has written, so thread-local writers would re-read the same pages for every event.
        """
        if self._write_conn is None:
            self._write_conn = self._connect()
        return self._write_conn

    def migrate(self) -> list[str]:
        """Apply pending migrations; a corrupt, locked or unwritable file is ``StoreUnavailable``
        with one readable line (the CLI prints it), not a traceback."""
        try:
            return migrations.apply(self._conn())
        except sqlite3.Error as exc:
            raise _cannot_open(self.path, exc, self.busy_timeout_ms) from exc

    def pending_migrations(self) -> list[str]:
        try:
            conn = self._conn()
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name='_migrations'").fetchone():
                done: set[str] = set()
            else:
                done = {r[0] for r in conn.execute("SELECT name FROM _migrations")}
        except sqlite3.Error as exc:
            raise _cannot_open(self.path, exc, self.busy_timeout_ms) from exc
        return [name for name, _ in migrations.MIGRATIONS if name not in done]

    @contextmanager
    def _transaction(self, begin: str, conn: sqlite3.Connection | None = None) -> Iterator[Tx]:
        conn = conn or self._conn()
        try:
            conn.execute(begin)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreBusy(
                    f"the store stayed locked for {self.busy_timeout_ms} ms ({exc}); nothing "
                    "was stored, try again"
                ) from exc
            unavailable = _cannot_write(exc)
            if unavailable is None:
                raise
            raise unavailable from exc
        try:
            tx = SqliteTx(conn)
            yield tx
            tx.flush_kpis()  # the KPI rows of what this transaction changed, in it
            conn.execute("COMMIT")
        except BaseException as exc:
            # After a failed COMMIT (disk full, I/O error) SQLite may or may not have rolled back:
            # end the transaction either way, or the shared writer could never begin another.
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    logger.warning("rollback failed after %s", exc)
            if isinstance(exc, sqlite3.Error) and (unavailable := _cannot_write(exc)):
                raise unavailable from exc
            raise

    @contextmanager
    def atomic(self) -> Iterator[Tx]:
        with self._write_lock:
            if self._queue is not None:
                self._queue.acquire(self.busy_timeout_ms / 1000)
            try:
                with self._transaction("BEGIN IMMEDIATE", self._writer()) as tx:
                    yield tx
            finally:
                if self._queue is not None:
                    self._queue.release()
            self._writes += 1
            if self._checkpointer is None and self.path != ":memory:":
                self._checkpointer = threading.Thread(
                    target=self._checkpoint_loop,
                    args=(self._stopped,),
                    name="sqlite-checkpoint",
                    daemon=True,
                )
                self._checkpointer.start()

    def _checkpoint_loop(self, stopped: threading.Event) -> None:
        """Copy the WAL back into the database off the request path, a few times a second.

        A checkpoint writes and fsyncs the database file: milliseconds, which SQLite would
        otherwise spend inside whichever commit crossed its threshold. PASSIVE never waits for
        readers or writers, so this thread cannot stall a request.
        """
        while not stopped.wait(CHECKPOINT_INTERVAL_SECONDS):
            if not self._writes:
                continue
            self._writes = 0
            try:
                self._conn().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error:  # e.g. the file is gone; the safety net still bounds the WAL
                logger.warning("background WAL checkpoint failed", exc_info=True)

    def turns(self) -> threading.RLock:
        return self._turns

    def reading(self):
        return self._transaction("BEGIN")

    def ping(self) -> None:
        if self.path != ":memory:":
            wal = Path(self.path + "-wal")
            shortage = space_shortage(
                shutil.disk_usage(Path(self.path).expanduser().parent).free,
                wal.stat().st_size if wal.exists() else 0,
            )
            if shortage:
                raise StoreUnavailable(f"the store {self.path} {shortage}")
        with self.atomic():  # the same path, locks and error mapping as every write
            conn = self._writer()
            # created here rather than by a migration: it holds nothing but the last probe's time
            conn.execute(
                "CREATE TABLE IF NOT EXISTS _probe (id INTEGER PRIMARY KEY, at REAL NOT NULL)"
            )
            conn.execute("INSERT OR REPLACE INTO _probe (id, at) VALUES (1, ?)", (time.time(),))

    def waker(self) -> SqliteWaker:
        return SqliteWaker(self.path)

    def close(self) -> None:
        self._stopped.set()
        if self._checkpointer is not None and self._checkpointer is not threading.current_thread():
            self._checkpointer.join(timeout=5)
        # a store used again after close starts a new checkpoint thread on its next write
        self._checkpointer, self._stopped = None, threading.Event()
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()
        self._write_conn = None
        if self._queue is not None:
            self._queue.close()
