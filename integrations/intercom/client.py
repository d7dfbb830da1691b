"""What the Intercom destination and its doctor share: the SDK's HTTP client, raw SDK responses
and their JSON.

python-intercom's models re-serialise what Intercom sent lossily, so both read the raw response.

**A total deadline on every request.** python-intercom sends through httpx, whose timeouts bound
each socket operation: a server that trickles its answer a byte at a time never lets a read time
out, so one call (and the delivery thread running it) lasts as long as the server likes.
``deadline_client`` gives the SDK an httpx client whose transport fixes an absolute deadline when
a request starts and caps every blocking step of that request with the time left: the connect,
the TLS handshake, each write of the request and each read of the status line, headers and body.
Once the time is spent the step fails with httpx's own timeout (``ReadTimeout``, ``WriteTimeout``,
``ConnectTimeout``), httpcore closes the connection (a half-read answer is never reused) and the
destination maps it as it maps any timeout. No watchdog thread: the cap is the socket timeout
itself, so nothing runs on after the call.

The deadline reaches the sockets through a context variable the transport sets while it sends
a request and reads its head; each connection remembers the deadline of the request it last
served, for the reads of that request's body that follow. Like requests for the other helpdesks,
the client goes through the HTTP(S) proxy the environment names (``environment_proxy``). httpx
and httpcore come with python-intercom, so they are imported only when the client is built.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger(__name__)

# When (``time.monotonic()``) the request being sent on this thread must be over.
_ends_at: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "intercom_request_ends_at", default=None
)
_WRITE_CHUNK = 16384  # a write is capped per chunk, so a slow reader cannot stretch one send


class Raw:
    """``raw.conversations.find(...)`` is ``client.conversations.with_raw_response.find(...)``."""

    def __init__(self, client: Any):
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name).with_raw_response


def dump(response: Any) -> dict[str, Any]:
    """The JSON Intercom sent, from the SDK's raw response (its models re-serialise lossily)."""
    if response is None:
        return {}
    if isinstance(response, dict):
        return response
    data = response._response.json()  # HttpResponse keeps the httpx.Response; no public accessor
    return data if isinstance(data, dict) else {}


@contextmanager
def _until(ends_at: float) -> Iterator[None]:
    token = _ends_at.set(ends_at)
    try:
        yield
    finally:
        _ends_at.reset(token)


def _time_left(
    ends_at: float | None, timeout: float | None, error: type[Exception]
) -> float | None:
    """``timeout`` capped by the time left until ``ends_at``; ``error`` when none is left."""
    if ends_at is None:
        return timeout
    left = ends_at - time.monotonic()
    if left <= 0:
        raise error("the request's total deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream:
    """An httpcore network stream whose reads and writes end by its request's deadline.

    ``errors`` is the ``httpcore`` module (its timeout exceptions), imported by the transport."""

    def __init__(self, stream: Any, errors: Any) -> None:
        self._stream, self._errors = stream, errors
        self._ends_at: float | None = None  # of the request this connection serves

    def _left(self, timeout: float | None, error: type[Exception]) -> float | None:
        self._ends_at = _ends_at.get() or self._ends_at  # a new request, or its body's reads
        return _time_left(self._ends_at, timeout, error)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return bytes(self._stream.read(max_bytes, self._left(timeout, self._errors.ReadTimeout)))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), _WRITE_CHUNK):
            capped = self._left(timeout, self._errors.WriteTimeout)
            self._stream.write(buffer[start : start + _WRITE_CHUNK], capped)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> _DeadlineStream:
        capped = self._left(timeout, self._errors.ConnectTimeout)
        tls = self._stream.start_tls(ssl_context, server_hostname, capped)
        return _DeadlineStream(tls, self._errors)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend:
    """httpcore's own blocking sockets (``SyncBackend``), each wrapped in a ``_DeadlineStream``."""

    def __init__(self, httpcore: Any) -> None:
        self._backend, self._errors = httpcore.SyncBackend(), httpcore

    def _capped(self, timeout: float | None) -> float | None:
        return _time_left(_ends_at.get(), timeout, self._errors.ConnectTimeout)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> _DeadlineStream:
        stream = self._backend.connect_tcp(
            host, port, self._capped(timeout), local_address, socket_options
        )
        return _DeadlineStream(stream, self._errors)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> _DeadlineStream:
        stream = self._backend.connect_unix_socket(path, self._capped(timeout), socket_options)
        return _DeadlineStream(stream, self._errors)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class DeadlineTransport:
    """An httpx transport (``httpx.HTTPTransport``'s, through an HTTP(S) ``proxy`` when given)
    whose requests each end ``deadline`` seconds after they began, answer complete or not."""

    def __init__(self, deadline: float, *, proxy: str | None = None) -> None:
        import httpcore
        import httpx

        self.deadline = deadline
        self._transport = httpx.HTTPTransport()
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's own
        common: dict[str, Any] = {
            "ssl_context": httpx.create_ssl_context(),  # certificates as httpx's, SSL_CERT_FILE too
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
            "network_backend": _DeadlineBackend(httpcore),
        }
        # the pool HTTPTransport builds, on sockets that know the deadline: httpx has no public
        # way to hand its pool a network backend
        if proxy is None:
            self._transport._pool = httpcore.ConnectionPool(**common)
            return
        via = httpx.Proxy(proxy)
        self._transport._pool = httpcore.HTTPProxy(
            proxy_url=httpcore.URL(
                scheme=via.url.raw_scheme,
                host=via.url.raw_host,
                port=via.url.port,
                target=via.url.raw_path,
            ),
            proxy_auth=via.raw_auth,
            proxy_headers=via.headers.raw,
            proxy_ssl_context=via.ssl_context,
            **common,
        )

    def handle_request(self, request: Any) -> Any:
        with _until(time.monotonic() + self.deadline):
            return self._transport.handle_request(request)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> DeadlineTransport:
        self._transport.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._transport.__exit__(*exc)


def environment_proxy(url: str) -> str | None:
    """The HTTP(S) proxy the environment names for ``url`` (``HTTPS_PROXY``, ``HTTP_PROXY``,
    ``ALL_PROXY``, skipped for hosts in ``NO_PROXY``), as requests reads it for the other
    helpdesks; a SOCKS proxy is not supported (the request goes direct, and a warning says so)."""
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if proxy and not proxy.startswith(("http://", "https://")):
        logger.warning("intercom: proxy %s is not an HTTP(S) proxy; connecting directly", proxy)
        return None
    return proxy or None


def deadline_client(deadline: float, base_url: str) -> Any:
    """An ``httpx.Client`` for ``Intercom(httpx_client=...)`` whose every request is over
    ``deadline`` seconds after it began (connect at most 5 s of it), through the environment's
    proxy for ``base_url`` if it names one."""
    import httpx

    timeout = httpx.Timeout(deadline, connect=min(5.0, deadline))
    transport = DeadlineTransport(deadline, proxy=environment_proxy(base_url))
    return httpx.Client(timeout=timeout, transport=transport)  # type: ignore[arg-type]
