"""What every part of ``PostgresTx`` shares: the connection, its locks, JSON in text columns."""

from __future__ import annotations

import json
from typing import Any

import psycopg

# One 64-bit advisory lock key per (kind, id); collisions only make two writers take turns.
LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"


def _j(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _l(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _where(**filters: Any) -> tuple[str, list[Any]]:
    used = {column: value for column, value in filters.items() if value}
    clause = " WHERE " + " AND ".join(f"{column}=%s" for column in used) if used else ""
    return clause, list(used.values())


class Queries:
    """The connection of one transaction and its advisory locks (``tx.py`` says which are taken)."""

    def __init__(
        self,
        conn: psycopg.Connection[dict[str, Any]],
        *,
        write: bool,
        pipe: psycopg.Pipeline | None = None,
    ):
        self.conn = conn
        self.write = write
        self.pipe = pipe  # the transaction runs in pipeline mode (``store.py``) when set
        self._locked: set[str] = set()

    def _one(self, sql: str, params: tuple | list = ()) -> dict[str, Any] | None:
        return self.conn.execute(sql, params).fetchone()

    def _count(self, sql: str, params: tuple | list = ()) -> int:
        """Run ``sql`` and return how many rows it changed (waits for the answer in a pipeline)."""
        cur = self.conn.execute(sql, params)
        if self.pipe is not None:
            self.pipe.sync()  # a row count arrives with the result, which a pipeline defers
        return cur.rowcount

    def _lock(self, key: str) -> None:
        """Take the transaction's advisory lock on ``key`` (once; released at commit/rollback).

        In a pipeline it is sent with the next statement that waits for an answer, which the
        database runs after the lock is granted: one round trip for both, and that statement
        (read committed: its own snapshot, taken when it starts) reads what the lock's previous
        holder committed."""
        if self.write and key not in self._locked:
            self.conn.execute(LOCK, (key,))
            self._locked.add(key)

    def _for_update(self) -> str:
        return " FOR UPDATE" if self.write else ""
