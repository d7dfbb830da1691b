"""Wake-ups across processes: real datagram sockets, and a new listener is never missed."""

from __future__ import annotations

from pathlib import Path

from connector.store.sqlite.waker import SqliteWaker as Waker


def _woken(waker: Waker, since: int) -> bool:
    waker.wait(since, timeout=5)
    return waker.generation != since


def test_notify_reaches_listeners_that_join_later(tmp_path: Path) -> None:
    store = str(tmp_path / "handoff.db")
    api, first = Waker(store), Waker(store)
    first.listen()
    late = None
    try:
        since = first.generation
        api.notify()
        assert _woken(first, since)

        # a worker started after the sender listed the folder is still woken by the next notify
        late = Waker(store)
        late.listen()
        since_first, since_late = first.generation, late.generation
        api.notify()
        assert _woken(late, since_late)
        assert _woken(first, since_first)

        # a listener that went away is skipped without error
        late.close()
        late = None
        since = first.generation
        api.notify()
        assert _woken(first, since)
    finally:
        for waker in (api, first, late):
            if waker is not None:
                waker.close()


def test_notify_without_any_listener_only_wakes_this_process(tmp_path: Path) -> None:
    waker = Waker(str(tmp_path / "nobody.db"))
    try:
        since = waker.generation
        waker.notify()
        assert waker.generation == since + 1
    finally:
        waker.close()
