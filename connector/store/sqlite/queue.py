"""``WriterQueue``: the processes that share one SQLite file take turns to write, woken by the kernel.

SQLite's own lock makes a writer that finds the database busy sleep and try again (1, 2, 5, 10 …
100 ms). Against a process that writes back to back — the API under load — those tries almost
always land while the lock is held again, so another process (a separate ``handoff worker``)
could wait seconds for its turn. Here every write transaction first takes an exclusive ``flock``
on ``<database>.writers``; a process waiting for it sleeps in the kernel and is woken the moment it
is released, so the processes alternate. SQLite's lock still guards the data: this only orders
the writers, and a process without it (an older version) is merely not queued.

The wait is bounded by the store's busy timeout. A blocking ``flock`` cannot time out, so when the
lock is taken a helper thread waits for it and the writer waits for the helper, up to the
timeout; if the writer gives up, the helper releases the lock as soon as it gets it. ``flock``
belongs to the open file, not to a thread, so what the helper takes the writer holds. A process
that dies holding the lock releases it.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from connector.errors import StoreBusy


class _Turns:
    """One open lock file and its helper; ``close`` drops it whole, so a helper still waiting
    never touches the next one."""

    def __init__(self, path: str):
        # flock needs no write access: a process of another user sharing the store can queue too
        self.fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
        self.lock = threading.Lock()  # the helper's hand-over and a writer's giving up are atomic
        self.wanted = threading.Event()  # a writer asks the helper to wait for the lock
        self.granted = threading.Event()  # the helper took it for the writer
        self.waiting = False  # the helper is (about to be) blocked in flock
        self.abandoned = False  # the writer gave up: the helper releases what it gets
        self.stopped = False
        self.helper: threading.Thread | None = None

    def wait_for_turns(self) -> None:
        while True:
            self.wanted.wait()
            self.wanted.clear()
            if self.stopped:
                break
            fcntl.flock(self.fd, fcntl.LOCK_EX)  # sleeps in the kernel until the lock is free
            with self.lock:
                self.waiting = False
                if self.abandoned or self.stopped:
                    self.abandoned = False
                    fcntl.flock(self.fd, fcntl.LOCK_UN)
                else:
                    self.granted.set()
            if self.stopped:
                break
        os.close(self.fd)


class WriterQueue:
    def __init__(self, database: str | Path):
        self.path = f"{Path(database).expanduser()}.writers"
        self._turns: _Turns | None = None

    def acquire(self, timeout: float) -> None:
        """Take this process's turn to write; the caller already holds the process's own writer
        lock, so one thread at a time is here. ``StoreBusy`` after ``timeout`` seconds."""
        if self._turns is None:
            self._turns = _Turns(self.path)
        t = self._turns
        with t.lock:
            helper_waiting = t.waiting
        if not helper_waiting:  # never alongside the helper: both would be holding the one file
            try:
                fcntl.flock(t.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
        if t.helper is None:
            t.helper = threading.Thread(
                target=t.wait_for_turns, name="sqlite-writer-queue", daemon=True
            )
            t.helper.start()
        with t.lock:
            t.abandoned = False  # whatever the helper gets next is this writer's
            t.granted.clear()
            if not t.waiting:
                t.waiting = True
                t.wanted.set()
        if t.granted.wait(timeout):
            return
        with t.lock:
            if t.granted.is_set():  # handed over just as the wait ended
                return
            t.abandoned = True
        raise StoreBusy(
            f"another process has held the store's write lock for over {timeout:g} s; "
            "nothing was stored, try again"
        )

    def release(self) -> None:
        if self._turns is not None:
            fcntl.flock(self._turns.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file (a helper still waiting for a turn closes it when it gets one)."""
        t, self._turns = self._turns, None
        if t is None:
            return
        with t.lock:
            t.stopped = True
            waiting = t.waiting
        if t.helper is None:
            os.close(t.fd)
        elif not waiting:
            t.wanted.set()  # the idle helper wakes, sees it is stopped, closes the file
