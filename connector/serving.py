"""``handoff serve``'s HTTP server: waitress, and a shutdown that finishes what it started.

On SIGTERM or SIGINT the server stops accepting connections, lets the requests already running
finish (waitress waits up to 5 s for its threads), sends the answers they produced, closes every
connection and returns. A request that never started is refused or cut, never half-done: the bot
retries it with the same event id, and a repeat gets the first answer. A second signal ends the
process at once.

The flush reaches into waitress's loop (its channel map), so pyproject.toml keeps waitress below
4. Closing waitress from a signal handler instead (``server.close()``) left keep-alive connections
in its loop, so under load the process never exited, and closing its wake-up pipe made every
running request fail with "Bad file descriptor".
"""

from __future__ import annotations

import signal
import time
from typing import Any

import waitress
from waitress import wasyncore
from waitress.channel import HTTPChannel

FLUSH_SECONDS = 2.0  # at most this long sending finished answers after the threads are done


def create_server(app: Any, *, host: str, port: int, threads: int, max_body_bytes: int) -> Any:
    """Bind now (``OSError`` or ``ValueError`` for a taken port or a host that does not resolve)."""
    return waitress.create_server(app, host=host, port=port, threads=threads, ident="handoff-connector",
                                  max_request_body_size=max_body_bytes + 1)


def _stop(signum: int, frame: object) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)  # a second signal ends the process at once
    raise SystemExit  # waitress's loop catches it and waits for its running threads


def run_until_signalled(server: Any) -> None:
    """Serve until SIGTERM or SIGINT, then shut down as the module docstring says."""
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        server.run()  # returns once a signal stopped it and the running requests are done
    finally:
        server.accepting = False  # the listening socket is no longer polled: nothing new arrives
        channels = [c for c in list(server._map.values()) if isinstance(c, HTTPChannel)]
        for channel in channels:
            channel.close_when_flushed = True  # read nothing more; close once the answer is out
        deadline = time.monotonic() + FLUSH_SECONDS
        while time.monotonic() < deadline and any(isinstance(c, HTTPChannel) for c in server._map.values()):
            wasyncore.loop(timeout=0.05, map=server._map, count=1)
        wasyncore.close_all(server._map)
