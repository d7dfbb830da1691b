"""What is true of the PostgreSQL store alone: its waker's fallback when the LISTEN connection drops,
migrations raced by replicas starting together, text it cannot hold, and the store's read verbs sent
as one statement each, with no transaction around it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from connector.app import create_app
from connector.runtime import build_runtime
from connector.store.postgres import PostgresStore
from connector.store.postgres.migrations import MIGRATIONS
from tests import helpers, pg
from tests.helpers import Clock, event, make_settings, post_event


def _listeners(url: str, channel: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE query = %s", (f'LISTEN "{channel}"',)
            )
        ]


def test_a_dropped_listen_connection_wakes_the_workers_and_listens_again() -> None:
    with pg.fresh_url() as url:
        store = PostgresStore(url)
        store.migrate()
        listener, sender = store.waker(), store.waker()
        try:
            listener.listen()
            [pid] = _listeners(url, listener.channel)
            before = listener.generation
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
            listener.wait(before, 30)
            assert (
                listener.generation != before
            )  # the drop itself sends workers looking (slow poll)
            for _ in range(300):  # reconnected: a new backend LISTENs
                if [p for p in _listeners(url, listener.channel) if p != pid]:
                    break
                listener.wait(listener.generation, 0.1)
            else:
                raise AssertionError("the waker never listened again")
            woken = listener.generation
            sender.notify()
            listener.wait(woken, 30)
            assert listener.generation != woken  # notifications arrive again
        finally:
            listener.close()
            sender.close()
            store.close()


def test_replicas_starting_together_migrate_once() -> None:
    with pg.fresh_url() as url:
        stores = [PostgresStore(url) for _ in range(4)]
        applied: list[list[str]] = []
        barrier = threading.Barrier(len(stores))

        def start(store: PostgresStore) -> None:
            barrier.wait(timeout=30)
            applied.append(store.migrate())

        threads = [threading.Thread(target=start, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            assert sorted(len(a) for a in applied) == [
                0,
                0,
                0,
                len(MIGRATIONS),
            ]  # one applied them all
            assert all(s.pending_migrations() == [] for s in stores)
        finally:
            for s in stores:
                s.close()


def test_a_nul_character_is_refused_whole_with_a_problem_not_stored_altered(tmp_path: Path) -> None:
    with pg.fresh_url() as url:
        helpers.STORE_URL["url"] = url
        try:
            runtime = build_runtime(make_settings(tmp_path), clock=Clock())
        finally:
            helpers.STORE_URL["url"] = None
        try:
            client = create_app(runtime=runtime).test_client()
            body = event(
                "conv-nul",
                "evt-nul",
                messages=[{"id": "m1", "role": "customer", "text": "hello\u0000 I want a person"}],
            )
            answer = post_event(client, body)
            assert answer.status_code == 400 and answer.json["type"].endswith("/nul-character")
            with runtime.store.reading() as tx:
                assert (
                    tx.get_event("demo", "evt-nul") is None
                    and tx.get_conversation("conv-nul") is None
                )
            assert (
                post_event(client, event("conv-ok", "evt-ok")).status_code == 200
            )  # the pool is fine
        finally:
            runtime.close()


def test_a_second_writer_of_a_lane_draws_its_id_only_after_the_first_commits() -> None:
    """Identity values are drawn at INSERT, not at COMMIT: without the lane's lock, a later row of
    a lane could commit (and be delivered) before an earlier one became visible."""
    with pg.fresh_url() as url:
        stores = [PostgresStore(url) for _ in range(3)]
        stores[0].migrate()
        second: list[int | None] = []

        def enqueue_second() -> None:
            with stores[1].atomic() as tx:
                second.append(tx.enqueue("callback", "bot", "m2", {}, 100.0, lane="L"))

        try:
            with stores[0].atomic() as tx:
                first = tx.enqueue("callback", "bot", "m1", {}, 100.0, lane="L")
                holder = tx.conn.info.backend_pid  # type: ignore[attr-defined]
                thread = threading.Thread(target=enqueue_second)
                thread.start()
                with psycopg.connect(url, autocommit=True) as watch:
                    for _ in range(600):  # until the second writer waits on this transaction's lock
                        if watch.execute(
                            "SELECT 1 FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                            (holder,),
                        ).fetchone():
                            break
                        threading.Event().wait(0.05)
                    else:
                        raise AssertionError(
                            "the second writer of the lane never waited for the first"
                        )
                assert second == []
                with stores[
                    2
                ].atomic() as other:  # a worker meanwhile: nothing of the lane is visible
                    assert other.claim_outbox("w", 100.0, 30.0) is None
            thread.join(timeout=30)
            assert first is not None and second and second[0] is not None and second[0] > first
            with stores[2].atomic() as other:
                claimed = other.claim_outbox("w", 100.0, 30.0)
                assert claimed is not None and claimed.id == first
                assert other.claim_outbox("w", 100.0, 30.0) is None
        finally:
            for s in stores:
                s.close()


class _Recording(psycopg.Cursor):  # type: ignore[type-arg]
    """Notes every statement its connection sends (the store's own cursors, otherwise unchanged)."""

    sent: list[str] = []

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        _Recording.sent.append(" ".join(str(query).split()))
        return super().execute(query, params, **kwargs)


class _RecordingStore(PostgresStore):
    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        super()._configure(conn)
        conn.cursor_factory = _Recording


def test_the_store_read_verbs_and_claims_are_one_statement_each_outside_any_transaction() -> None:
    with pg.fresh_url() as url:
        store = _RecordingStore(url)
        try:
            store.migrate()
            with store.atomic() as tx:
                tx.put_event("demo", "e-1", "conv-1", {"ok": True}, "2026-11-21T10:00:00+00:00")
            reads: list[Callable[[], object]] = [
                lambda: store.ingest_snapshot("demo", "e-1", "conv-1"),
                lambda: store.ingest_snapshot("demo", "e-2", "conv-1"),
                lambda: store.routing_history("general", 20, "cust-1"),
                lambda: store.routing_history("general", 20, None),
                lambda: store.look_for_work(0.0),
                lambda: store.handoff_with_refs("h-1"),
                lambda: store.claim_outbox("w-1", 0.0, 30.0),
                lambda: store.claim_outbox_batch("w-1", 0.0, 30.0, 4),
            ]
            for read in reads:
                _Recording.sent.clear()
                read()
                assert len(_Recording.sent) == 1, _Recording.sent
                assert not _Recording.sent[0].upper().startswith(("BEGIN", "COMMIT", "SET"))
        finally:
            store.close()
