"""``PostgresTx``'s report verbs: the raw rows behind the KPIs, and the KPI row per handoff.

A write verb that changes what a handoff's KPI row summarises marks the handoff
(``_kpis_changed``); the store recomputes each marked row once, just before COMMIT
(``flush_kpis``), and ``list_handoff_kpis`` flushes first so a transaction reads back what it
wrote. Across replicas the rows stay right without a lock of their own: the recompute reads the
handoff for writing, which takes its conversation's advisory lock (``tx.py``), so two transactions
changing one handoff recompute its row one after the other, the second (read committed: every
statement reads afresh) seeing what the first committed.
"""

from __future__ import annotations

from typing import Any

from psycopg.rows import tuple_row

from connector.store.postgres.sql import Queries

# The handoff columns a KPI row reads: an update touching one of them recomputes the row.
KPI_INPUTS = frozenset({"team", "payload", "claimed_by", "handback"})


class ReportQueries(Queries):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kpis_due: dict[str, None] = {}  # handoffs whose KPI row this transaction changed

    def _kpis_changed(self, handoff_id: str) -> None:
        if self.write:
            self._kpis_due[handoff_id] = None

    def flush_kpis(self) -> None:
        """Recompute the KPI rows this transaction's writes changed; the store calls it before COMMIT."""
        while self._kpis_due:
            # in id order: the conversation locks the recompute takes are taken in one order
            handoff_id = min(self._kpis_due)
            del self._kpis_due[handoff_id]
            self.refresh_handoff_kpis(handoff_id)  # type: ignore[attr-defined]  # Tx's, built on the read verbs

    def report_data(self, since, until, team=None):
        from connector.store.postgres.reports import report_data

        return report_data(self.conn, since, until, team)

    def put_handoff_kpis(self, row):
        from connector.store.postgres.reports import put_kpi_rows

        put_kpi_rows(self.conn, [row])

    def list_handoff_kpis(self, since, until):
        from connector.store.postgres.reports import LIST_KPIS

        self.flush_kpis()  # what this transaction wrote, read back in it
        with self.conn.cursor(row_factory=tuple_row) as cur:  # plain tuples, in LIST_FIELDS order
            return cur.execute(LIST_KPIS, (since, until)).fetchall()

    def sum_handoff_kpis(self, since, until, team=None, source=None):
        from connector.store.postgres.reports import sum_kpis

        self.flush_kpis()  # what this transaction wrote, summed in it
        return sum_kpis(self.conn, since, until, team, source)

    def count_conversations(self, since, until):
        row = self._one(
            "SELECT COUNT(*) AS n FROM conversations WHERE created_at >= %s AND created_at < %s",
            (since, until),
        )
        return int(row["n"]) if row else 0
