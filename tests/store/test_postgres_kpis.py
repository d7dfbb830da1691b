"""KPI rows on PostgreSQL: its back-fill (migration 006) writes the rows SQLite's write verbs kept,
and its report from the rows equals its report from the raw tables (``report_data``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.bench_report import fill
from connector.report import build_report
from connector.store.copy import copy
from connector.store.postgres import PostgresStore
from connector.store.postgres.reports import backfill_kpis
from connector.store.sqlite import SqliteStore
from tests import pg


def test_kpi_rows_back_filled_on_postgresql_agree_with_sqlite_and_with_the_raw_tables(tmp_path: Path) -> None:
    path = tmp_path / "handoff.db"
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    fill(str(path), 400, now, seed=11)  # 400 handoffs over a week, as the benchmark writes them
    sqlite = SqliteStore(str(path))
    with pg.fresh_url() as url:
        target = PostgresStore(url)
        try:
            target.migrate()
            copy(sqlite, target)
            with target.atomic() as tx:
                tx.conn.execute("DELETE FROM handoff_kpis")  # type: ignore[attr-defined]
                assert backfill_kpis(tx.conn) == 400  # type: ignore[attr-defined]
            with target.reading() as tx:
                on_pg = sorted(tx.list_handoff_kpis("0001", "9999"), key=lambda r: r[0])
            with sqlite.reading() as tx:
                on_sqlite = sorted(tx.list_handoff_kpis("0001", "9999"), key=lambda r: r[0])
            assert [tuple(r) for r in on_pg] == [tuple(r) for r in on_sqlite]
            for days, team in [(7, None), (2, None), (7, "billing")]:
                start, end = now - timedelta(days=days), now + timedelta(seconds=1)
                fast = build_report(target, start, end, team=team)
                assert fast == build_report(target, start, end, team=team, from_raw=True)
                assert fast == build_report(sqlite, start, end, team=team)
                assert fast["handoffs"] > 0 and fast["repeat_context"]["observed"] > 0
        finally:
            target.close()
            sqlite.close()
