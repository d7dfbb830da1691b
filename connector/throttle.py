"""Failed API-key authentications, throttled per client address.

2,000 wrong keys in 2.6 s used to get 2,000 quiet 401s. Now each wrong key is counted against the
client's address (``AuthThrottle.failed``); once an address has ``security.auth_max_failures``
failures within ``security.auth_window_seconds``, every request from it that presents an API key
gets a 429 problem with ``Retry-After`` until its oldest counted failure leaves the window. Bots
posting signed events present no API key and are never held back by this.

Each failure is one WARNING line (address, path, reason; never the key), at most
``auth_max_failures`` per address per window, and the block one more; ``handoff_auth_failures_total``
counts failures and throttled requests. The count lives in this process's memory: several
replicas each count their own. Behind a reverse proxy every client has the proxy's address unless
``server.trusted_proxy`` names it, so waitress takes the client's from ``X-Forwarded-For``.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict, deque

from flask import Flask, request

from connector import metrics
from connector.errors import ProblemError
from connector.runtime import Runtime

logger = logging.getLogger(__name__)

MAX_ADDRESSES = 100_000  # addresses remembered at most; the least recently failed are forgotten


class TooManyFailures(ProblemError):
    status, slug, title = 429, "too-many-auth-failures", "Too many failed authentications"


class AuthThrottle:
    """Failures per address in a sliding window. Pass ``now`` (seconds): the caller owns the clock."""

    def __init__(self, max_failures: int, window_seconds: float):
        self.max_failures = max_failures
        self.window = window_seconds
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times

    def retry_after(self, address: str, now: float) -> int | None:
        """Whole seconds until ``address`` may try again, or None when it is not throttled."""
        with self._lock:
            times = self._recent(address, now)
            if times is None or len(times) < self.max_failures:
                return None
            return max(1, math.ceil(times[-self.max_failures] + self.window - now))

    def failed(self, address: str, now: float) -> bool:
        """Count one failure; True when it is the one that throttles ``address``."""
        with self._lock:
            times = self._recent(address, now) or deque(maxlen=self.max_failures)
            times.append(now)
            self._failures[address] = times
            self._failures.move_to_end(address)
            while len(self._failures) > MAX_ADDRESSES:
                self._failures.popitem(last=False)
            return len(times) == self.max_failures

    def check(self, address: str, now: float) -> None:
        """Raise ``TooManyFailures`` (429 with Retry-After) while ``address`` is throttled."""
        wait = self.retry_after(address, now)
        if wait is not None:
            error = TooManyFailures(
                f"too many failed authentications from {address}; try again in {wait} s "
                "(security.auth_max_failures, security.auth_window_seconds)"
            )
            error.retry_after_seconds = wait
            raise error


FAILED_AUTH = frozenset(
    {"bad-api-key"}
)  # a key was presented and was wrong; a missing one is not a guess


def _presents_api_key() -> bool:
    auth = request.headers.get("Authorization", "")
    return (
        auth.lower().startswith("bearer ")
        or "X-API-Key" in request.headers
        or "key" in request.args
    )


def install(app: Flask, runtime: Runtime) -> AuthThrottle:
    """Refuse requests that present an API key from a throttled address, before any handler runs."""
    security = runtime.settings.security
    throttle = runtime.extras["auth_throttle"] = AuthThrottle(
        security.auth_max_failures, security.auth_window_seconds
    )

    @app.before_request
    def _throttled() -> None:
        if _presents_api_key():
            try:
                throttle.check(request.remote_addr or "-", runtime.now().timestamp())
            except TooManyFailures:
                metrics.safely(runtime, lambda m: m.auth_failures.labels("throttled").inc())
                raise

    return throttle


def record(runtime: Runtime, error: ProblemError) -> None:
    """Count a failed authentication (``error.slug`` in ``FAILED_AUTH``) against the client's address."""
    throttle = runtime.extras.get("auth_throttle")
    if not isinstance(throttle, AuthThrottle):
        return
    address = request.remote_addr or "-"
    metrics.safely(runtime, lambda m: m.auth_failures.labels(error.slug).inc())
    logger.warning(
        "authentication failed: %s %s from %s (%s)",
        request.method,
        request.path,
        address,
        error.slug,
    )
    if throttle.failed(address, runtime.now().timestamp()):
        logger.warning(
            "throttling %s: %s failed authentications within %s s",
            address,
            throttle.max_failures,
            throttle.window,
        )
