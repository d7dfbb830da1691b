"""Outbound HTTP with a total deadline, not only a per-read timeout.

``requests``' timeout bounds each read: a receiver that trickles one byte a second holds the call
(and a delivery thread) for as long as it likes. ``post_within`` also starts a watchdog that shuts
the call's sockets down when ``deadline`` seconds have passed, so the call ends then, whatever the
other side does; it raises ``requests.Timeout`` saying so. ``within`` does the same for any
session that mounts a ``WatchedAdapter`` (the Zendesk and Salesforce SDK sessions), reused
keep-alive connections included.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_calls = threading.local()  # the watch of the call running on this thread


class _Watch:
    """The connections of one call, their sockets shut down together when its deadline passes."""

    def __init__(self) -> None:
        self.connections: list[Any] = []
        self.expired = False
        self._lock = threading.Lock()

    def add(self, connection: Any) -> None:
        with self._lock:
            self.connections.append(connection)
            if self.expired:
                _shut(connection)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for connection in self.connections:
                _shut(connection)


def _shut(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)  # a blocked read returns at once
    except OSError:
        pass  # already closed


def _watching(connection: Any) -> Any:
    watch = getattr(_calls, "watch", None)
    if watch is not None:
        watch.add(connection)
    return connection


class _WatchedHTTP(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _watching(self)


class _WatchedHTTPS(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _watching(self)


class _Pool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTP

    def _get_conn(self, timeout: float | None = None) -> Any:
        return _watching(super()._get_conn(timeout))  # a reused keep-alive connection too


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPS

    def _get_conn(self, timeout: float | None = None) -> Any:
        return _watching(super()._get_conn(timeout))


class WatchedAdapter(HTTPAdapter):
    """An adapter whose connections ``within`` can cut off; mount it on a session."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}


@contextmanager
def within(deadline: float) -> Iterator[None]:
    """Requests made on this thread, through a ``WatchedAdapter``, end ``deadline`` seconds from
    now, answer read or not; a cut-off call raises ``requests.Timeout`` saying so."""
    watch = _Watch()
    timer = threading.Timer(deadline, watch.expire)
    timer.daemon = True
    outer, _calls.watch = getattr(_calls, "watch", None), watch
    timer.start()
    try:
        yield
    except requests.RequestException as exc:
        if watch.expired:
            raise requests.Timeout(f"no complete answer within {deadline:g}s") from exc
        raise
    finally:
        timer.cancel()
        _calls.watch = outer


def request_within(method: str, url: str, *, deadline: float, **kwargs: Any) -> requests.Response:
    """``requests.request`` that is over, answer read or not, ``deadline`` seconds after it started
    (``post_within`` for any method; ``kwargs`` as ``requests`` takes them: json, params, …)."""
    with requests.Session() as session, within(deadline):
        for prefix in ("http://", "https://"):
            session.mount(prefix, WatchedAdapter(max_retries=0))
        return session.request(method, url, timeout=deadline, **kwargs)


def post_within(
    url: str, *, data: bytes, headers: dict[str, str], deadline: float, **kwargs: Any
) -> requests.Response:
    """``requests.post`` that is over, answer read or not, ``deadline`` seconds after it started.

    Each read also times out after ``deadline``; no retries inside. Raises ``requests.Timeout``
    when the deadline cut the call, and whatever ``requests`` raises otherwise.
    """
    with requests.Session() as session, within(deadline):
        for prefix in ("http://", "https://"):
            session.mount(prefix, WatchedAdapter(max_retries=0))
        return session.post(url, data=data, headers=headers, timeout=deadline, **kwargs)
