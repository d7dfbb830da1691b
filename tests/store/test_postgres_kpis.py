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


def test_kpi_rows_back_filled_on_postgresql_agree_with_sqlite_and_with_the_raw_tables(
    tmp_path: Path,
) -> None:
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


def test_two_transactions_changing_one_handoff_recompute_its_kpi_row_in_turn() -> None:
    """One transaction has recomputed the row (and holds it); another adds a fact. The second must
    recompute after the first commits, from what it committed, not overwrite it with a row computed
    before: the recompute waits on the conversation's lock."""
    import threading

    import psycopg

    from connector import kpis
    from connector.store import MessageRow
    from tests.store.test_contract import DAY_END, DAY_START, T2, conversation, handoff

    with pg.fresh_url() as url:
        stores = [PostgresStore(url) for _ in range(2)]
        stores[0].migrate()
        try:
            with stores[0].atomic() as tx:
                tx.insert_conversation(conversation("conv-1"))
                tx.add_messages([MessageRow("conv-1", "m1", "customer", "my order", T2)])
                tx.insert_handoff(handoff("h-1"))  # its transcript: that one turn

            def add_fact() -> None:
                with stores[0].atomic() as tx:
                    tx.add_fact("h-1", "first_response", T2, {"seconds": 42.0})

            with stores[1].atomic() as first:
                first.add_messages(
                    [MessageRow("conv-1", "a1", "agent", "What's your email address?", None)]
                )
                first.list_handoff_kpis(DAY_START, DAY_END)  # recomputed now, committed below
                holder = first.conn.info.backend_pid  # type: ignore[attr-defined]
                thread = threading.Thread(target=add_fact)
                thread.start()
                with psycopg.connect(url, autocommit=True) as watch:
                    for _ in range(600):  # until the fact's transaction waits on this one
                        if watch.execute(
                            "SELECT 1 FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                            (holder,),
                        ).fetchone():
                            break
                        threading.Event().wait(0.05)
                    else:
                        raise AssertionError("the second transaction never waited for the first")
            thread.join(timeout=30)
            with stores[0].reading() as tx:
                (row,) = [
                    dict(zip(kpis.LIST_FIELDS, r, strict=True))
                    for r in tx.list_handoff_kpis(DAY_START, DAY_END)
                ]
            assert (row["first_response_seconds"], row["repeat_observed"]) == (
                42.0,
                1,
            )  # both writes
        finally:
            for s in stores:
                s.close()


def test_kpis_summed_by_postgresql_give_the_report_python_sums_give(tmp_path: Path) -> None:
    """``sum_handoff_kpis`` (the sums in SQL) against ``kpis.sums`` over the same rows, on the
    same data in PostgreSQL and in SQLite: periods full, partial and empty, by team, by source."""
    from connector import kpis

    path = tmp_path / "handoff.db"
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    fill(str(path), 300, now, seed=5)
    sqlite = SqliteStore(str(path))
    with pg.fresh_url() as url:
        target = PostgresStore(url)
        try:
            target.migrate()
            copy(sqlite, target)
            with sqlite.reading() as tx:
                sources = sorted(
                    {
                        r[kpis.LIST_FIELDS.index("source")]
                        for r in tx.list_handoff_kpis("0001", "9999")
                    }
                )
            cases = [
                (days, team, source)
                for days in (7, 2, 0)
                for team in (None, "billing", "no-such-team")
                for source in (None, *sources[:2])
            ]
            summed_somewhere = False
            for days, team, source in cases:
                since = (now - timedelta(days=days)).isoformat()
                until = (now + timedelta(seconds=1 if days else 0)).isoformat()
                with target.reading() as tx:
                    in_sql = tx.sum_handoff_kpis(since, until, team, source)
                    rows = tx.list_handoff_kpis(since, until)
                with sqlite.reading() as tx:
                    assert tx.sum_handoff_kpis(since, until, team, source) is None
                    sqlite_rows = tx.list_handoff_kpis(since, until)
                assert in_sql is not None
                period = {"conversations": 1000, "since": since, "until": until, "team": team}
                expected = kpis.assemble(kpis.sums(rows, team=team, source=source), **period)
                assert kpis.assemble(in_sql, **period) == expected, (days, team, source)
                on_sqlite = kpis.sums(sqlite_rows, team=team, source=source)
                assert kpis.assemble(on_sqlite, **period) == expected
                summed_somewhere |= in_sql["handoffs"] > 0 and in_sql["csat_responses"] > 0
            assert summed_somewhere
        finally:
            target.close()
            sqlite.close()
