"""``PostgresStore``: one database shared by any number of replicas (``store.url: postgresql://…``).

Its queries are ``PostgresTx`` (``tx.py``), its schema the migrations in ``migrations.py``, its
wake-up of workers ``PostgresWaker`` (``waker.py``, LISTEN/NOTIFY). Connections come from a
``psycopg_pool`` pool of ``store.pool_size`` per process.

Transactions. ``atomic()`` is READ COMMITTED and serialises writers with locks held by the
database until commit (see ``tx.py``): writers of one conversation take turns on an advisory
lock on its id, so the ingest's optimistic check ("has the conversation changed since I
decided?") reads what the previous writer committed, and a lost race decides again, exactly as on
SQLite. We chose locks over SERIALIZABLE: a serialization failure can surface at any statement or
at commit, and ``atomic()`` (a context manager) cannot replay its caller's block, so every caller
would need a retry loop; a lock makes the second writer wait a few milliseconds instead.
``reading()`` is REPEATABLE READ, READ ONLY: one consistent snapshot, no locks. The ``Store`` verbs
that stand for several reads (``ingest_snapshot``, ``routing_history``, ``look_for_work``,
``handoff_with_refs``) and the outbox claims are one statement each, sent alone on the autocommit
connection: a statement is one snapshot, and a transaction by itself, with no BEGIN or COMMIT.

A writer that waits on a lock longer than ``store.busy_timeout_ms`` gets ``StoreBusy`` (503),
as on SQLite; a database that cannot be reached or cannot write gets ``StoreUnavailable``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from connector.errors import BadRequest, ConfigError, StoreBusy, StoreUnavailable
from connector.store.base import (
    Store,
    Tx,
)
from connector.store.postgres import migrations
from connector.store.postgres.tx import PostgresTx
from connector.store.postgres.waker import PostgresWaker

if TYPE_CHECKING:
    from connector.store_config import StoreSettings

logger = logging.getLogger(__name__)

SCHEMES = ("postgresql://",)


def _busy(exc: BaseException, timeout_ms: int) -> StoreBusy:
    return StoreBusy(
        f"the store stayed locked for {timeout_ms} ms ({exc}); nothing was stored, try again"
    )


def _unavailable(url: str, exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(
        f"the store {redact(url)} cannot be reached or cannot write ({exc}); "
        "nothing was stored, try again later"
    )


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


class PostgresStore(Store):
    name = "postgresql"
    audit_ids_contiguous = False  # ids come from a sequence; a rolled-back append leaves a hole

    @classmethod
    def check_url(cls, url: str) -> list[tuple[str, str]]:
        if not url.lower().startswith(SCHEMES):
            return [
                (
                    "store.url",
                    f"{redact(url)!r} is not a PostgreSQL URL: write postgresql://user@host:5432/db",
                )
            ]
        try:
            psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            return [("store.url", f"{redact(url)!r} is not a valid PostgreSQL URL: {exc}")]
        if not urlsplit(url).path.strip("/"):
            return [
                ("store.url", f"{redact(url)!r} names no database: write postgresql://host/DBNAME")
            ]
        return []

    @classmethod
    def from_url(cls, url: str, settings: StoreSettings) -> PostgresStore:
        problems = cls.check_url(url)
        if problems:
            raise ConfigError(problems)
        return cls(
            url,
            busy_timeout_ms=settings.busy_timeout_ms,
            pool_size=getattr(settings, "pool_size", 10),
        )

    def __init__(self, url: str, *, busy_timeout_ms: int = 10_000, pool_size: int = 10):
        self.url = url
        self.busy_timeout_ms = busy_timeout_ms
        # every session waits at most this long for a lock: a stuck writer elsewhere is a 503 here
        options = {"autocommit": True, "row_factory": dict_row}
        self._pool: ConnectionPool[Any] = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs=options,
            open=False,
            configure=self._configure,
            timeout=max(1.0, busy_timeout_ms / 1000),
            name="handoff-store",
        )
        self._opened = False
        self._channel: str | None = None

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(f"SET lock_timeout = {int(self.busy_timeout_ms)}")

    def _open(self) -> ConnectionPool[Any]:
        if not self._opened:
            self._pool.open(wait=False)
            self._opened = True
        return self._pool

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._open().connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise StoreUnavailable(
                f"no connection to the store {redact(self.url)} within "
                f"{self.busy_timeout_ms} ms ({exc}); nothing was stored, try again"
            ) from exc

    @contextmanager
    def _transaction(self, begin: str, *, write: bool) -> Iterator[Tx]:
        with self._connection() as conn, self._errors(conn):
            # Pipeline mode: a statement whose answer is not needed (BEGIN, a lock, most
            # writes, COMMIT) is sent with the next one that is, so a transaction waits for
            # the database once per answer it reads, not once per statement (tx.py).
            with conn.pipeline() as pipe:
                conn.execute(begin)
                try:
                    tx = PostgresTx(conn, write=write, pipe=pipe)
                    yield tx
                    tx.before_commit()  # audit heads, the KPI rows of what it changed
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")

    @contextmanager
    def _one_statement(self) -> Iterator[PostgresTx]:
        """A ``PostgresTx`` for one verb that is one statement (the ``Store`` read verbs, the
        claims): sent alone on the autocommit connection, it is its own transaction, and a
        statement sees one snapshot throughout, as the verbs it replaces did inside REPEATABLE
        READ. No BEGIN, no COMMIT: two statements fewer and a round trip less. It takes no
        advisory locks (``write=False``): a statement alone would hold them for nothing."""
        with self._connection() as conn, self._errors(conn):
            yield PostgresTx(conn, write=False)

    @contextmanager
    def _errors(self, conn: psycopg.Connection[Any]) -> Iterator[None]:
        """The store's errors for the database's, the connection given back clean."""
        try:
            yield
        except (pg_errors.LockNotAvailable, pg_errors.DeadlockDetected) as exc:
            self._rollback(conn)
            raise _busy(exc, self.busy_timeout_ms) from exc
        except psycopg.DataError as exc:
            self._rollback(conn)
            if "NUL" not in str(exc):
                raise
            # PostgreSQL's text cannot hold U+0000 (SQLite's can): refuse the request whole,
            # rather than store something other than what was sent
            raise BadRequest(
                "a text or id contains the character U+0000 (NUL), which this store "
                "(PostgreSQL) cannot keep; nothing was stored",
                slug="nul-character",
            ) from exc
        except (
            pg_errors.DiskFull,
            pg_errors.ReadOnlySqlTransaction,
            pg_errors.AdminShutdown,
            psycopg.OperationalError,
        ) as exc:
            self._rollback(conn)
            raise _unavailable(self.url, exc) from exc

    @staticmethod
    def _rollback(conn: psycopg.Connection[Any]) -> None:
        """End a transaction an error left open, so the pool gets the connection back clean."""
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE and not conn.closed:
            try:
                conn.execute("ROLLBACK")
            except psycopg.Error:
                pass  # a broken connection: the pool checks and replaces it

    def atomic(self) -> Any:
        return self._transaction("BEGIN ISOLATION LEVEL READ COMMITTED", write=True)

    def reading(self) -> Any:
        return self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", write=False)

    # the read verbs of several ``Tx`` verbs (``Store.ingest_snapshot`` …) are each one statement
    # (``tx.py``), sent alone; a claim is one UPDATE … RETURNING: sent alone, it commits by itself,
    # as BEGIN … COMMIT did around it (it takes no advisory lock: ``_one_statement``'s Tx takes none)
    def _read_alone(self) -> Any:
        return self._one_statement()

    def _write_alone(self) -> Any:
        return self._one_statement()

    def migrate(self) -> list[str]:
        try:
            with self._connection() as conn:
                return migrations.apply(conn)
        except psycopg.OperationalError as exc:
            raise _unavailable(self.url, exc) from exc

    def pending_migrations(self) -> list[str]:
        try:
            with self._connection() as conn:
                return migrations.pending(conn)
        except psycopg.OperationalError as exc:
            raise _unavailable(self.url, exc) from exc

    def ping(self) -> None:
        with self.atomic() as tx:
            assert isinstance(tx, PostgresTx)
            # a real write, as on SQLite: a read-only standby or a full disk fails here
            tx.conn.execute(
                "INSERT INTO _probe (id, at) VALUES (1, extract(epoch from now()))"
                " ON CONFLICT (id) DO UPDATE SET at = excluded.at"
            )

    def channel(self) -> str:
        """The NOTIFY channel of this store: one per database and schema, so stores in other
        schemas of the same database (the tests') do not wake each other's workers."""
        if self._channel is None:
            with self._connection() as conn:
                row = conn.execute(
                    "SELECT current_database() AS d, current_schema() AS s"
                ).fetchone()
            where = f"{row['d']}/{row['s']}" if row else self.url
            self._channel = "handoff_wake_" + hashlib.sha256(where.encode()).hexdigest()[:16]
        return self._channel

    def waker(self) -> PostgresWaker:
        return PostgresWaker(self.url, self.channel())

    def close(self) -> None:
        if self._opened:
            self._pool.close()
            self._opened = False
            # a store used again after close opens a new pool
            self._pool = ConnectionPool(
                self.url,
                min_size=1,
                max_size=self._pool.max_size,
                kwargs=self._pool.kwargs,
                open=False,
                configure=self._configure,
                timeout=self._pool.timeout,
                name="handoff-store",
            )
