"""The Freshdesk send step: API v2 over ``requests``, shared by the destination and the doctor.

A ``requests`` session without a retry adapter (a silent re-send of a note after a timeout would
add a second one), the API key as basic auth (``<key>:X``), our rate limiter before every request,
and one error edge::

    status 408, 425, 429, 5xx        -> TransientDeliveryError (retry_after from Retry-After)
    other 4xx                        -> PermanentDeliveryError (Freshdesk's errors in the text)
    timeout, connection error        -> TransientDeliveryError

Freshdesk's own limit is per account and per minute, shared with every other app on it, so the
client also honours what Freshdesk says: ``X-RateLimit-Remaining: 0`` or a 429 closes a
``Window`` until the minute (or ``Retry-After``) is over, and until then every request fails at once
with ``TransientDeliveryError(retry_after=…)`` without being sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from integrations.base import (
    DeliveryError,
    RateLimiter,
    TransientDeliveryError,
    error_for_status,
    parse_retry_after,
)
from integrations.freshdesk.build import FreshdeskSettings

WINDOW_SECONDS = 60  # Freshdesk counts calls per minute


class Window:
    """When Freshdesk said the account's budget is spent, and until when (the injected clock)."""

    def __init__(self, now: Callable[[], datetime]):
        self.now = now
        self.closed_until: datetime | None = None
        self._lock = threading.Lock()

    def check(self, what: str) -> None:
        with self._lock:
            if self.closed_until is None:
                return
            wait = (self.closed_until - self.now()).total_seconds()
            if wait <= 0:
                self.closed_until = None
                return
        raise TransientDeliveryError(f"Freshdesk {what}: holding back, the account's rate limit is spent",
                                     retry_after=wait)  # fmt: skip

    def close_for(self, seconds: float) -> None:
        with self._lock:
            until = self.now() + timedelta(seconds=max(1.0, seconds))
            if self.closed_until is None or until > self.closed_until:
                self.closed_until = until

    def observe(self, response: Any) -> None:
        """Read the rate-limit headers of any answer."""
        if response.status_code == 429:
            retry = parse_retry_after(response.headers.get("Retry-After"))
            self.close_for(retry if retry is not None else WINDOW_SECONDS)
        elif (response.headers.get("X-RateLimit-Remaining") or "").strip() == "0":
            self.close_for(WINDOW_SECONDS)


def status_error(what: str, response: Any) -> DeliveryError:
    """A Freshdesk error answer (``description`` and ``errors[]``) as a delivery error."""
    detail = ""
    try:
        body = response.json()
        errors = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in body.get("errors") or []
                           if isinstance(e, dict))  # fmt: skip
        detail = " ".join(
            str(x) for x in (body.get("description") or body.get("message"), errors) if x
        )
    except (ValueError, AttributeError):
        pass
    return error_for_status(response.status_code, f"Freshdesk {what}: {response.status_code} {detail}".strip(),
                            response=response.text[:2000],
                            retry_after=response.headers.get("Retry-After"))  # fmt: skip


class ApiClient:
    """One thread's connection to the account: ``call`` sends one request and returns its JSON."""

    def __init__(self, settings: FreshdeskSettings, limiter: RateLimiter, window: Window):
        import requests
        from requests.adapters import HTTPAdapter

        self.settings, self.limiter, self.window = settings, limiter, window
        self.base = settings.base_url.rstrip("/")
        self.session = requests.Session()
        for prefix in ("https://", "http://"):
            self.session.mount(prefix, HTTPAdapter(max_retries=0))
        self.session.auth = (settings.api_key, "X")
        self.session.headers.update({"Accept": "application/json"})

    def call(self, what: str, method: str, path: str, *, params: dict[str, Any] | None = None,
             json: dict[str, Any] | None = None) -> Any:  # fmt: skip
        """``method`` on ``<base_url><path>``; the parsed JSON body (``{}`` when empty)."""
        import requests

        self.window.check(what)
        self.limiter.acquire()
        try:
            response = self.session.request(method, self.base + path, params=params, json=json,
                                            timeout=self.settings.timeout_seconds)  # fmt: skip
        except requests.Timeout as exc:
            raise TransientDeliveryError(f"Freshdesk {what}: timed out") from exc
        except requests.RequestException as exc:
            raise TransientDeliveryError(f"Freshdesk {what}: {type(exc).__name__}") from exc
        self.window.observe(response)
        if response.status_code >= 400:
            raise status_error(what, response)
        try:
            return response.json() if response.content else {}
        except ValueError as exc:
            raise TransientDeliveryError(f"Freshdesk {what}: the answer is not JSON") from exc

    def pages(self, what: str, path: str, params: dict[str, Any], *, limit: int = 10) -> list[Any]:
        """Every item of a listed resource, ``per_page=100``, at most ``limit`` pages."""
        items: list[Any] = []
        for page in range(1, limit + 1):
            batch = self.call(what, "GET", path, params={**params, "per_page": 100, "page": page})
            if not isinstance(batch, list):
                raise TransientDeliveryError(f"Freshdesk {what}: expected a list")
            items += batch
            if len(batch) < 100:
                break
        return items

    def close(self) -> None:
        self.session.close()
