"""``PostgresWaker``: wakes delivery workers with LISTEN/NOTIFY, in every replica on the database.

``notify()`` raises the local generation at once and hands a ``NOTIFY`` to a sender thread (so it
never blocks on the network; notifications coalesce while one is in flight). ``listen()`` starts a
thread holding its own connection in ``LISTEN``; each notification raises the generation. If that
connection drops, the thread falls back to a slow poll: it raises the generation every
``SLOW_POLL_SECONDS`` (workers then look for work) while it reconnects, and once more after
reconnecting, for anything notified while it was away.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import psycopg

from connector.store.base import Waker

logger = logging.getLogger(__name__)

SLOW_POLL_SECONDS = 2.0
LISTEN_TICK_SECONDS = 1.0  # how often the listener checks it was closed


class PostgresWaker(Waker):
    def __init__(self, url: str, channel: str):
        self.url = url
        self.channel = channel
        self._cond = threading.Condition()
        self._generation = 0
        self._stopped = threading.Event()
        self._send = threading.Event()
        self._sender: threading.Thread | None = None
        self._listener: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        return self._generation

    def _bump(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def wake_here(self) -> None:
        self._bump()  # no NOTIFY: only this process's threads are told

    def notify(self) -> None:
        self._bump()
        if self._stopped.is_set():
            return
        with self._lock:
            if self._sender is None:
                self._sender = threading.Thread(
                    target=self._send_loop, name="handoff-notify", daemon=True
                )
                self._sender.start()
        self._send.set()

    def _send_loop(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        while not self._stopped.is_set():
            if not self._send.wait(LISTEN_TICK_SECONDS):
                continue
            self._send.clear()
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
                conn.execute("SELECT pg_notify(%s, '')", (self.channel,))
            except psycopg.Error:
                # the listeners' slow poll covers a lost notification; try a new connection next time
                logger.warning(
                    "could not NOTIFY the workers; they will find the work on their slow poll",
                    exc_info=True,
                )
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def wait(self, since: int, timeout: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._generation != since, timeout=max(0.0, timeout))

    def listen(self) -> None:
        with self._lock:
            if self._listener is not None or self._stopped.is_set():
                return
            ready = threading.Event()
            self._listener = threading.Thread(
                target=self._listen_loop, args=(ready,), name="handoff-listen", daemon=True
            )
            self._listener.start()
        ready.wait(5)  # LISTEN is in place before the worker first looks for work (or 5 s passed)

    def _listen_loop(self, ready: threading.Event) -> None:
        connected_before = False
        while not self._stopped.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f'LISTEN "{self.channel}"')
                    ready.set()
                    if connected_before:
                        self._bump()  # anything notified while we were away
                    connected_before = True
                    while not self._stopped.is_set():
                        for _ in conn.notifies(timeout=LISTEN_TICK_SECONDS):
                            self._bump()
            except psycopg.Error:
                ready.set()
                logger.warning(
                    "the wake-up connection dropped; polling every %s s until it is back",
                    SLOW_POLL_SECONDS,
                    exc_info=True,
                )
                self._bump()
                self._stopped.wait(SLOW_POLL_SECONDS)

    def close(self) -> None:
        self._stopped.set()
        self._send.set()
        for thread in (self._sender, self._listener):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=LISTEN_TICK_SECONDS + 1)
