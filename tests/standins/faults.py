"""Fault injection for the stand-ins: one FIFO queue of faults, each matched by route.

``fail_next`` answers with a vendor-shaped error, ``delay_next`` answers late (after applying),
``trickle_next`` answers a byte at a time (after applying), ``drop_next`` closes the connection
without an answer (optionally after applying). Each request
takes the first queued fault whose ``route`` regex is found in ``"METHOD /path"``.
"""

from __future__ import annotations

import email.utils
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fault", "FaultQueue", "http_date"]


def http_date(seconds_from_now: float = 0.0) -> str:
    """An RFC 9110 HTTP-date, for ``fail_next(429, retry_after=http_date(2))``."""
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


@dataclass
class Fault:
    """One queued fault. ``kind`` is ``status``, ``delay``, ``trickle`` or ``drop``."""

    kind: str
    route: str | None = None
    times: int = 1
    status: int = 500
    body: Any = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    apply: bool = False
    head_first: bool = False  # trickle: the status line and headers at once, then the body

    def matches(self, method: str, path: str) -> bool:
        return self.route is None or re.search(self.route, f"{method} {path}") is not None


class FaultQueue:
    """Mixin holding the fault queue; ``StandinServer`` consults it for every request."""

    _faults: list[Fault]
    _lock: threading.RLock

    def fail_next(
        self,
        status: int = 500,
        *,
        retry_after: str | int | None = None,
        times: int = 1,
        body: Any = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        route: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and the vendor's error body.

        ``body`` overrides the vendor-shaped default; ``code`` picks a vendor error code for it
        (e.g. Salesforce ``REQUEST_LIMIT_EXCEEDED``). ``retry_after`` is sent verbatim as
        ``Retry-After`` (seconds, or an HTTP-date from ``http_date()``). ``route`` is a regex
        searched in ``"METHOD /path"``; ``None`` matches every request. The request is not applied.
        """
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        self._queue(
            Fault("status", route, times, status=status, body=body, code=code, headers=extra)
        )

    def delay_next(self, seconds: float, *, times: int = 1, route: str | None = None) -> None:
        """Apply the next matching request(s) normally but hold the response ``seconds``.

        Use a client timeout shorter than ``seconds``: the client times out although the change was
        made, as with a real, slow server.
        """
        self._queue(Fault("delay", route, times, seconds=seconds))

    def trickle_next(
        self,
        seconds_per_byte: float,
        *,
        head_first: bool = False,
        times: int = 1,
        route: str | None = None,
    ) -> None:
        """Apply the next matching request(s) normally, then send the answer one byte every
        ``seconds_per_byte``: every read the client makes gets a byte well within a per-read
        timeout, so only a deadline on the whole call ends it. ``head_first`` sends the status
        line and headers at once and trickles the body. The stand-in stops trickling when the
        client hangs up (``cut_off`` then names the request) or the stand-in stops.
        """
        self._queue(Fault("trickle", route, times, seconds=seconds_per_byte, head_first=head_first))

    def drop_next(self, *, apply: bool = False, times: int = 1, route: str | None = None) -> None:
        """Close the connection after reading the next matching request, without a response.

        With ``apply=True`` the request is applied first: the ambiguous failure, where the client
        cannot know whether its ticket exists.
        """
        self._queue(Fault("drop", route, times, apply=apply))

    def clear_faults(self) -> None:
        """Forget every queued fault."""
        with self._lock:
            self._faults.clear()

    def _queue(self, fault: Fault) -> None:
        if fault.times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None
