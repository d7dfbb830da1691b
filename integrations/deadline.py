"""Outbound HTTP with a total deadline, not only a per-read timeout.

``requests``' timeout bounds each read: a receiver that trickles one byte a second holds the call
(and a delivery thread) for as long as it likes. ``post_within`` also starts a watchdog that shuts
the call's sockets down when ``deadline`` seconds have passed, so the call ends then, whatever the
other side does; it raises ``requests.Timeout`` saying so. Each call uses a fresh session (a
pooled keep-alive connection would escape the watch); it is for rare calls (alerts, callbacks).
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_calls = threading.local()  # the watch of the call running on this thread


class _Watch:
    """The sockets of one call, shut down together when its deadline passes."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        self.expired = False
        self._lock = threading.Lock()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self.sockets.append(sock)
            if self.expired:
                _shut(sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self.sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # a blocked read returns at once
    except OSError:
        pass  # already closed


class _WatchedHTTP(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        watch = getattr(_calls, "watch", None)
        if watch is not None and self.sock is not None:
            watch.add(self.sock)


class _WatchedHTTPS(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        watch = getattr(_calls, "watch", None)
        if watch is not None and self.sock is not None:
            watch.add(self.sock)


class _Pool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTP


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPS


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}


def post_within(url: str, *, data: bytes, headers: dict[str, str], deadline: float,
                **kwargs: Any) -> requests.Response:
    """``requests.post`` that is over, answer read or not, ``deadline`` seconds after it started.

    Each read also times out after ``deadline``; no retries inside. Raises ``requests.Timeout``
    when the deadline cut the call, and whatever ``requests`` raises otherwise.
    """
    watch = _Watch()
    timer = threading.Timer(deadline, watch.expire)
    timer.daemon = True
    _calls.watch = watch
    timer.start()
    try:
        with requests.Session() as session:
            for prefix in ("http://", "https://"):
                session.mount(prefix, _Adapter(max_retries=0))
            try:
                return session.post(url, data=data, headers=headers, timeout=deadline, **kwargs)
            except requests.RequestException as exc:
                if watch.expired:
                    raise requests.Timeout(f"no complete answer within {deadline:g}s") from exc
                raise
    finally:
        timer.cancel()
        _calls.watch = None
