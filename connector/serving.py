"""``handoff serve``'s HTTP server: waitress, hardened against slow peers, and a graceful shutdown.

Slow peers: waitress reads every request whole on its event loop before a worker thread sees it,
so an idle or slow-dripping socket costs a file descriptor and a little memory, never a thread.
What used to take the API down was the count: waitress stops accepting at ``connection_limit``
(100 by default), and its default ``select()`` loop cannot watch descriptors past 1024. So the
server polls (``poll()``), accepts up to ``server.connection_limit`` connections, raises the
process's soft open-file limit to fit them (``fit_open_file_limit``), closes connections idle for
``server.channel_timeout`` seconds, and closes a connection whose current request has not arrived
whole within ``server.request_timeout`` seconds of its first byte (a drip of one byte a second
would otherwise keep it open for ever: waitress's own timeout only counts silence).

On SIGTERM or SIGINT the server stops accepting connections, lets the requests already running
finish (waitress waits up to 5 s for its threads), sends the answers they produced, closes every
connection and returns. A request that never started is refused or cut, never half-done: the bot
retries it with the same event id, and a repeat gets the first answer. A second signal ends the
process at once.

The flush and the request timeout reach into waitress's loop (its channel map, its channel and
parser classes), so pyproject.toml keeps waitress below 4. Closing waitress from a signal handler
instead (``server.close()``) left keep-alive connections in its loop, so under load the process
never exited, and closing its wake-up pipe made every running request fail with "Bad file
descriptor".
"""

from __future__ import annotations

import gc
import json
import logging
import resource
import signal
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import waitress
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask

from connector.api import PROBLEM_BASE

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 2.0  # at most this long sending finished answers after the threads are done
# Descriptors the process needs besides client connections: SQLite and its WAL, the worker's
# outbound HTTP clients, waitress's wake-up pipe, logs. Generous: they are cheap.
RESERVED_FILES = 128
CLEANUP_SECONDS = 1  # how often waitress looks for idle and overdue connections
# (method, path) -> what to hold while serving that request (``create_server``)
Turns = Callable[[str, str], AbstractContextManager[object]]


class _TimedParser(HTTPRequestParser):
    """Waitress's request parser, remembering when the request's first byte arrived."""

    def __init__(self, adj: Any) -> None:
        super().__init__(adj)
        self.started = time.time()  # waitress's maintenance clock is time.time()


class _ProblemErrorTask(ErrorTask):
    """Waitress's answer to a request it refuses before the app sees it (body or headers too
    large, malformed HTTP), as the problem JSON every other error is, instead of text/plain."""

    def execute(self) -> None:
        error = self.request.error
        detail = str(error.body)
        if error.code == 413:
            limit = self.channel.server.adj.max_request_body_size - 1  # create_server adds 1
            detail = f"the body is larger than server.max_body_bytes ({limit} bytes)"
        body = json.dumps(
            {
                "type": PROBLEM_BASE + error.reason.lower().replace(" ", "-"),
                "title": error.reason,
                "status": error.code,
                "detail": detail,
            }
        ).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/problem+json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Channel(HTTPChannel):
    parser_class = _TimedParser
    error_task_class = _ProblemErrorTask

    def service(self) -> None:
        """Serve the next request, holding what ``create_server``'s ``turns`` asks for it.

        Held around the whole request (the app, then handing the answer to the event loop), so
        requests that take turns do not trade Python's lock with each other on the way in and
        out either; the body is already read whole, the answer only queued: no socket waits."""
        turns = self.server.turns  # set with the channel class (``_harden``)
        request = self.requests[0] if self.requests else None
        if turns is None or request is None or request.error:
            super().service()
            return
        with turns(request.command, request.path):
            super().service()


def _maintenance(server: Any, request_timeout: float, now: float) -> None:
    """Close connections idle past channel_timeout (waitress's rule) or mid-request past request_timeout."""
    BaseWSGIServer.maintenance(server, now)
    cutoff = now - request_timeout
    for channel in list(server.active_channels.values()):
        request = channel.request  # None between requests; a partial request otherwise
        if (
            request is not None
            and getattr(request, "started", now) < cutoff
            and not channel.will_close
        ):
            channel.will_close = True  # too slow to send one request: drop it, like an idle one


def fit_open_file_limit(soft: int, hard: int, connection_limit: int) -> tuple[int, int]:
    """Return ``(soft limit to set, connection limit that fits)`` for RLIMIT_NOFILE ``soft``/``hard``.

    The soft limit is raised (never lowered) towards ``connection_limit + RESERVED_FILES``, up to
    the hard limit (``resource.RLIM_INFINITY`` is unbounded). When even the hard limit is too low,
    the connection limit shrinks to what fits, so the server refuses to accept rather than failing
    on ``accept()`` with "too many open files".
    """
    needed = connection_limit + RESERVED_FILES
    ceiling = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
    new_soft = soft if soft == resource.RLIM_INFINITY else max(soft, ceiling)
    usable = needed if new_soft == resource.RLIM_INFINITY else new_soft
    return new_soft, max(1, min(connection_limit, usable - RESERVED_FILES))


def _raise_open_file_limit(connection_limit: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new_soft, fitted = fit_open_file_limit(soft, hard, connection_limit)
    if new_soft != soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
    if fitted < connection_limit:
        logger.warning(
            "open-file limit %s (hard %s) fits only %s connections; server.connection_limit "
            "is %s: raise the hard limit (ulimit -Hn, LimitNOFILE=)",
            new_soft,
            hard,
            fitted,
            connection_limit,
        )
    return fitted


def create_server(
    app: Any,
    *,
    host: str,
    port: int,
    threads: int,
    max_body_bytes: int,
    connection_limit: int = 4000,
    channel_timeout: int = 60,
    request_timeout: int = 30,
    trusted_proxy: str | None = None,
    turns: Turns | None = None,
) -> Any:
    """Bind now (``OSError`` or ``ValueError`` for a taken port or a host that does not resolve).

    ``connection_limit`` open connections at most (more wait in the listen backlog); a connection
    silent for ``channel_timeout`` seconds between requests, or still sending one request
    ``request_timeout`` seconds after its first byte, is closed. With ``trusted_proxy`` (the
    reverse proxy's address), a request from it takes its client address from the last hop of
    ``X-Forwarded-For``; that header is dropped from anyone else. ``turns(method, path)``, when
    given, is held around each request (``service.event_turns`` for bot events: on SQLite a
    process's events take turns, and eight threads trading Python's lock at every SQLite call
    cost about a tenth more CPU per event than one request after another).
    """
    proxy: dict[str, Any] = {}
    if trusted_proxy:
        proxy = {
            "trusted_proxy": trusted_proxy,
            "trusted_proxy_headers": {"x-forwarded-for"},
            "trusted_proxy_count": 1,
            "clear_untrusted_proxy_headers": True,
        }
    limit = _raise_open_file_limit(connection_limit)
    server = waitress.create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="handoff-connector",
        max_request_body_size=max_body_bytes + 1,
        connection_limit=limit,
        channel_timeout=channel_timeout,
        cleanup_interval=CLEANUP_SECONDS,
        asyncore_use_poll=True,
        **proxy,
    )  # select() stops at descriptor 1024
    listeners = (
        server._map if isinstance(server, BaseWSGIServer) else server.map
    )  # map: several addresses
    for listener in list(listeners.values()):
        _harden(listener, request_timeout, turns)
    return server


def _harden(listener: Any, request_timeout: float, turns: Turns | None) -> None:
    if isinstance(listener, BaseWSGIServer):
        listener.channel_class = _Channel
        listener.turns = turns
        listener.maintenance = lambda now: _maintenance(listener, request_timeout, now)  # type: ignore[method-assign]


def _stop(signum: int, frame: object) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)  # a second signal ends the process at once
    raise SystemExit  # waitress's loop catches it and waits for its running threads


def run_until_signalled(server: Any) -> None:
    """Serve until SIGTERM or SIGINT, then shut down as the module docstring says."""
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    # What start-up built (modules, settings, the app, the warmed-up policy patterns and lexicon)
    # lives as long as the process: kept out of the collector's full passes, which otherwise
    # re-scan those ~70,000 objects every few hundred requests for nothing (~3 % of an event's CPU).
    gc.freeze()
    try:
        server.run()  # returns once a signal stopped it and the running requests are done
    finally:
        server.accepting = False  # the listening socket is no longer polled: nothing new arrives
        channels = [c for c in list(server._map.values()) if isinstance(c, HTTPChannel)]
        for channel in channels:
            channel.close_when_flushed = True  # read nothing more; close once the answer is out
        deadline = time.monotonic() + FLUSH_SECONDS
        while time.monotonic() < deadline and any(
            isinstance(c, HTTPChannel) for c in server._map.values()
        ):
            wasyncore.loop(
                timeout=0.05, map=server._map, count=1, use_poll=True
            )  # past descriptor 1024 too
        close_all(server)


def close_all(server: Any) -> None:
    """Close the server's connections, then its listening socket and wake-up pipe.

    In that order: a request still running (a live view's stream) wakes the event loop by writing
    a byte to the pipe, by its number. Closed first, the connections make its next write end it;
    closed after the pipe, that write could land in whatever file took the pipe's number since
    (the SQLite store's first page)."""
    for channel in [c for c in list(server._map.values()) if isinstance(c, HTTPChannel)]:
        channel.handle_close()
    wasyncore.close_all(server._map)
