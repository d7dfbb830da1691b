"""``handoff store copy``: move a deployment's rows from one store to another (SQLite → PostgreSQL).

Table by table in primary-key order, in batches; each batch is one transaction on the target that
upserts by primary key. So a copy can be stopped and run again (it resumes by rewriting what is
there, and brings rows the running source changed since up to date), and copying twice changes
nothing. After the copy, the row counts of every table are compared (the source may have grown
meanwhile: the target then holds at least as many rows and a second run catches up) and the
target's audit trail is verified. Identity sequences on PostgreSQL are moved past the copied ids.

Rows move column by column, by name, over the columns both sides have; both stores' schemas
are kept alike for this (``connector/store/*/migrations.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from connector.store.base import Store

# table → primary key columns; the order is the copy's (none references another).
TABLES: dict[str, tuple[str, ...]] = {
    "conversations": ("id",),
    "messages": ("conversation_id", "id"),
    "events": ("source", "event_id"),
    "handoffs": ("id",),
    "ticket_refs": ("handoff_id", "destination"),
    "inbox": ("number",),
    "handoff_facts": ("id",),
    "draft_events": ("id",),
    "timers": ("id",),
    "outbox": ("id",),
    "audit": ("id",),
    "audit_heads": ("chain",),
    "audit_checkpoints": ("id",),
    "budgets": ("key",),
    "handoff_kpis": (
        "handoff_id",
    ),  # derived from the rows above, copied as they are  # the vendors' rate-limit buckets: the new store goes on spending from them
}
# Identity columns on PostgreSQL whose sequence must pass the copied ids.
IDENTITIES = {
    "inbox": "number",
    "handoff_facts": "id",
    "draft_events": "id",
    "timers": "id",
    "outbox": "id",
    "audit": "id",
    "audit_checkpoints": "id",
}
BATCH = 2000


@dataclass
class CopyReport:
    copied: dict[str, int] = field(default_factory=dict)
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # table → (source, target)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Side:
    """Plain SQL on one store's connection, whatever the store; ``param`` is its placeholder."""

    def __init__(self, store: Store):
        from connector.store.sqlite import SqliteStore

        self.store = store
        self.sqlite = isinstance(store, SqliteStore)
        self.param = "?" if self.sqlite else "%s"

    @contextmanager
    def conn(self) -> Iterator[Any]:
        if self.sqlite:
            yield self.store._conn()  # type: ignore[attr-defined]
        else:
            with self.store._connection() as conn:  # type: ignore[attr-defined]
                yield conn

    def columns(self, table: str) -> list[str]:
        with self.conn() as conn:
            if self.sqlite:
                return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            rows = conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name=%s"
                " AND table_schema=current_schema() ORDER BY ordinal_position",
                (table,),
            )
            return [r["column_name"] for r in rows]

    def count(self, table: str) -> int:
        with self.conn() as conn:
            row = conn.execute(f"SELECT COUNT(*) AS n FROM {table}").fetchone()
            return int(row[0] if self.sqlite else row["n"])

    def batches(
        self, table: str, cols: list[str], pk: tuple[str, ...]
    ) -> Iterator[list[tuple[Any, ...]]]:
        select = ", ".join(cols)
        order = ", ".join(pk)
        key_at = [cols.index(k) for k in pk]
        after: tuple[Any, ...] | None = None
        while True:
            with self.conn() as conn:
                if after is None:
                    sql = f"SELECT {select} FROM {table} ORDER BY {order} LIMIT {BATCH}"
                    params: tuple[Any, ...] = ()
                else:
                    marks = ", ".join([self.param] * len(pk))
                    sql = f"SELECT {select} FROM {table} WHERE ({order}) > ({marks}) ORDER BY {order} LIMIT {BATCH}"
                    params = after
                cur = conn.execute(sql, params)
                rows = [tuple(r) if self.sqlite else tuple(r[c] for c in cols) for r in cur]
            if not rows:
                return
            yield rows
            after = tuple(rows[-1][i] for i in key_at)

    def upsert(
        self, table: str, cols: list[str], pk: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        marks = ", ".join([self.param] * len(cols))
        rest = [c for c in cols if c not in pk]
        action = (
            "DO UPDATE SET " + ", ".join(f"{c}=excluded.{c}" for c in rest)
            if rest
            else "DO NOTHING"
        )
        sql = (
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})"
            f" ON CONFLICT ({', '.join(pk)}) {action}"
        )
        if self.sqlite:
            with self.store.atomic():
                conn = self.store._writer()  # type: ignore[attr-defined]
                conn.executemany(sql, rows)
        else:
            with self.conn() as conn, conn.transaction(), conn.cursor() as cur:
                cur.executemany(sql, rows)

    def fix_sequences(self) -> None:
        if self.sqlite:
            return
        with self.conn() as conn:
            for table, column in IDENTITIES.items():
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                    f" GREATEST((SELECT MAX({column}) FROM {table}), 1))"
                )


def copy(source: Store, target: Store, *, progress: Any = None) -> CopyReport:
    """Copy every table of ``source`` into ``target`` (both migrated), then check counts and the audit."""
    from connector import audit

    report = CopyReport()
    src, dst = _Side(source), _Side(target)
    for table, pk in TABLES.items():
        theirs = set(dst.columns(table))
        cols = [c for c in src.columns(table) if c in theirs]
        if not cols:
            report.problems.append(f"{table}: no columns in common (is the target migrated?)")
            continue
        n = 0
        for rows in src.batches(table, cols, pk):
            dst.upsert(table, cols, pk, rows)
            n += len(rows)
            if progress:
                progress(table, n)
        report.copied[table] = n
    dst.fix_sequences()
    for table in TABLES:
        counts = (src.count(table), dst.count(table))
        report.counts[table] = counts
        if counts[1] < counts[0]:
            report.problems.append(
                f"{table}: {counts[0]} row(s) in the source but {counts[1]} in the target "
                "(written during the copy? run it again)"
            )
    checked = audit.verify_store(target)
    report.problems.extend(f"audit: {p}" for p in checked.problems)
    return report
