"""An httpx transport whose every request is over ``deadline`` seconds after it began.

python-intercom sends through httpx, and httpx's timeouts bound each socket operation: a server
that trickles its answer a byte at a time never lets a read time out, so one call (and the
delivery thread running it) can last as long as the server likes. ``DeadlineTransport`` fixes an
absolute deadline when a request starts and caps every blocking step of that request with the
time left: the connect, the TLS handshake, each write of the request and each read of the
status line, the headers and the body. Once the time is spent the step fails with httpx's own
timeout (``ReadTimeout``, ``WriteTimeout``, ``ConnectTimeout``), httpcore closes the connection
(a half-read answer is never reused) and the caller maps it as it maps any timeout.

No watchdog thread: the cap is the socket timeout itself, so nothing runs on after the call.
The deadline travels with the request through a context variable that the transport sets while
the request is sent and while each piece of its body is read; keep-alive connections shared by
several requests each see the deadline of the request using them.

httpx and httpcore come with python-intercom, so this module is imported only when the client
is built (``destination.py``).
"""

from __future__ import annotations

import contextvars
import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

# When (``time.monotonic()``) the request being sent or read on this thread must be over.
_ends_at: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "intercom_request_ends_at", default=None
)
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's defaults
_WRITE_CHUNK = 16384  # a write is capped per chunk, so a slow reader cannot stretch one send


@contextmanager
def _until(ends_at: float) -> Iterator[None]:
    token = _ends_at.set(ends_at)
    try:
        yield
    finally:
        _ends_at.reset(token)


def _left(timeout: float | None, error: type[httpcore.TimeoutException]) -> float | None:
    """``timeout`` capped by the time left to the current request; ``error`` when none is left."""
    ends_at = _ends_at.get()
    if ends_at is None:
        return timeout
    left = ends_at - time.monotonic()
    if left <= 0:
        raise error("the request's total deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection's socket stream whose reads and writes end by the current request's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), _WRITE_CHUNK):
            chunk = buffer[start : start + _WRITE_CHUNK]
            self._stream.write(chunk, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        capped = _left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, capped))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own blocking sockets, each connection wrapped in a ``_DeadlineStream``."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        capped = _left(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, capped, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        capped = _left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, capped, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _DeadlineBody(httpx.SyncByteStream):
    """A response body read under its request's deadline, one piece at a time."""

    def __init__(self, stream: httpx.SyncByteStream, ends_at: float) -> None:
        self._stream, self._ends_at = stream, ends_at

    def __iter__(self) -> Iterator[bytes]:
        pieces = iter(self._stream)
        while True:
            with _until(self._ends_at):  # set and reset within one step, never across a yield
                piece = next(pieces, None)
            if piece is None:
                return
            yield piece

    def close(self) -> None:
        self._stream.close()


class DeadlineTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` (no proxy) whose requests each end ``deadline`` seconds after they
    began, answer complete or not."""

    def __init__(
        self,
        deadline: float,
        *,
        verify: ssl.SSLContext | str | bool = True,
        limits: httpx.Limits = _LIMITS,
    ) -> None:
        super().__init__(verify=verify, limits=limits)
        self.deadline = deadline
        # the pool HTTPTransport builds, on sockets that know the deadline: httpx has no public
        # way to hand its pool a network backend (the certificates are httpx's, SSL_CERT_FILE too)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        ends_at = time.monotonic() + self.deadline
        with _until(ends_at):
            response = super().handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_DeadlineBody(response.stream, ends_at),
            extensions=response.extensions,
        )


def deadline_client(deadline: float) -> httpx.Client:
    """An httpx client whose every request is over ``deadline`` seconds after it began (connect
    at most 5 s of it), for ``Intercom(httpx_client=...)``."""
    timeout = httpx.Timeout(deadline, connect=min(5.0, deadline))
    return httpx.Client(timeout=timeout, transport=DeadlineTransport(deadline))
