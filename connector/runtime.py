"""What a running connector holds: settings, store, destinations, clock, and the worker's waker."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from connector.clock import utcnow
from connector.config import Settings
from connector.store import Store, open_store
from integrations.base import Destination, destination_class

logger = logging.getLogger(__name__)


class Waker:
    """Wakes delivery workers the moment work is written, in this process and in others.

    In-process waiters block on a condition with a generation counter (no lost wake-ups, no
    polling). Worker processes bind a datagram socket in a folder derived from the store path;
    ``notify`` sends one byte to each, so ``handoff serve`` wakes a separate ``handoff worker``.
    """

    def __init__(self, store_path: str):
        digest = hashlib.sha256(os.path.abspath(store_path).encode()).hexdigest()[:16]
        self.folder = Path(tempfile.gettempdir()) / f"handoff-wake-{digest}"
        self._cond = threading.Condition()
        self._generation = 0
        self._sock: socket.socket | None = None
        self._sock_path: Path | None = None
        self._out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._out.setblocking(False)
        self._peers_cache: list[Path] = []
        self._peers_mtime: int | None = None

    @property
    def generation(self) -> int:
        return self._generation

    def _bump(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def _peers(self) -> list[Path]:
        """The other workers' sockets, listed again only when the folder has changed.

        Binding or removing a socket changes the folder's mtime, so one ``stat`` answers
        "anything new?". A folder changed within the last second is listed anyway, because its
        mtime may not have ticked between two changes that close together.
        """
        try:
            mtime = self.folder.stat().st_mtime_ns
        except OSError:
            return []
        if mtime != self._peers_mtime or time.time_ns() - mtime < 1_000_000_000:
            try:
                self._peers_cache = [p for p in self.folder.glob("*.sock") if p != self._sock_path]
            except OSError:
                return []
            self._peers_mtime = mtime
        return self._peers_cache

    def notify(self) -> None:
        self._bump()
        for peer in self._peers():
            try:
                self._out.sendto(b"1", str(peer))
            except (ConnectionRefusedError, FileNotFoundError):
                peer.unlink(missing_ok=True)  # a worker that died without cleaning up
            except OSError:
                pass  # full buffer: that worker is awake anyway

    def wait(self, since: int, timeout: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._generation != since, timeout=max(0.0, timeout))

    def listen(self) -> None:
        """Receive wake-ups from other processes (called by workers)."""
        if self._sock is not None:
            return
        self.folder.mkdir(mode=0o700, exist_ok=True)
        path = self.folder / f"{os.getpid()}-{id(self)}.sock"
        path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        self._sock, self._sock_path = sock, path
        threading.Thread(target=self._receive, name="handoff-waker", daemon=True).start()

    def _receive(self) -> None:
        sock = self._sock
        while sock is not None:
            try:
                sock.recv(64)
            except OSError:
                return
            self._bump()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        if self._sock_path is not None:
            self._sock_path.unlink(missing_ok=True)
        self._out.close()


@dataclass
class Runtime:
    settings: Settings
    store: Store
    destinations: dict[str, Destination]
    waker: Waker
    clock: Callable[[], datetime] = utcnow
    extras: dict[str, object] = field(default_factory=dict)

    # -- what destinations may use (``integrations.base.DestinationContext``) --
    def now(self) -> datetime:
        return self.clock()

    @property
    def base_url(self) -> str:
        return self.settings.server.base_url()

    @property
    def replay_window_seconds(self) -> int:
        return self.settings.security.replay_window_seconds

    @property
    def team_names(self) -> Collection[str]:
        return self.settings.routing.teams.keys()

    def handoff_team(self, handoff_id: str) -> str | None:
        with self.store.reading() as tx:
            handoff = tx.get_handoff(handoff_id)
        return handoff.team if handoff else None

    def close(self) -> None:
        for destination in self.destinations.values():
            close = getattr(destination, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # closing must never stop the rest from closing
                    logger.exception("closing destination %s", destination.name)
        self.waker.close()
        self.store.close()


def build_runtime(settings: Settings, *, store: Store | None = None,
                  clock: Callable[[], datetime] = utcnow) -> Runtime:
    store = store or open_store(settings)
    runtime = Runtime(settings, store, {}, Waker(settings.store.path), clock)
    try:
        for name, dest_settings in settings.destinations.items():
            cls = destination_class(name)
            runtime.destinations[name] = cls.from_config(dest_settings, runtime)
    except BaseException:
        runtime.close()  # release the store, the waker and any destination already built
        raise
    return runtime
