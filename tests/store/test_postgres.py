"""What is true of the PostgreSQL store alone: its waker's fallback when the LISTEN connection drops,
and migrations raced by replicas starting together."""

from __future__ import annotations

import threading

import psycopg

from connector.store.postgres import PostgresStore
from connector.store.postgres.migrations import MIGRATIONS
from tests import pg


def _listeners(url: str, channel: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE query = %s", (f'LISTEN "{channel}"',))]


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
            assert listener.generation != before  # the drop itself sends workers looking (slow poll)
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
            assert sorted(len(a) for a in applied) == [0, 0, 0, len(MIGRATIONS)]  # one applied them all
            assert all(s.pending_migrations() == [] for s in stores)
        finally:
            for s in stores:
                s.close()
