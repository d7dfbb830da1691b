"""The ServiceNow send step: the Table API over ``requests``, shared by the destination and the doctor.

A ``requests`` session without a retry adapter (a silent re-send of a PATCH after a timeout would
add a second work note), our rate limiter before every request, and one error edge::

    status 408, 425, 429, 5xx        -> TransientDeliveryError (retry_after from Retry-After)
    other 4xx                        -> PermanentDeliveryError (ServiceNow's error message in the text)
    timeout, connection error        -> TransientDeliveryError

With OAuth (client credentials) the token is fetched from ``/oauth_token.do`` and kept until a
minute before it expires; a 401 drops it and the request is sent once more with a new one (a 401
means the instance did nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from integrations.base import (
    DeliveryError,
    RateLimiter,
    TransientDeliveryError,
    error_for_status,
)
from integrations.servicenow.build import ServiceNowSettings


def status_error(what: str, response: Any) -> DeliveryError:
    """A ServiceNow error answer (``{"error": {"message", "detail"}}``) as a delivery error."""
    detail = ""
    try:
        error = response.json().get("error") or {}
        if isinstance(error, dict):
            detail = " ".join(str(error[k]) for k in ("message", "detail") if error.get(k))
        else:
            detail = str(error)
    except (ValueError, AttributeError):
        pass
    return error_for_status(response.status_code,
                            f"ServiceNow {what}: {response.status_code} {detail}".strip(),
                            response=response.text[:2000],
                            retry_after=response.headers.get("Retry-After"))  # fmt: skip


class TableClient:
    """One thread's connection to the instance: ``call`` sends one request and returns its JSON."""

    def __init__(
        self, settings: ServiceNowSettings, limiter: RateLimiter, now: Callable[[], datetime]
    ):
        import requests
        from requests.adapters import HTTPAdapter

        self.settings, self.limiter, self.now = settings, limiter, now
        self.base = settings.instance_url.rstrip("/")
        self.session = requests.Session()
        for prefix in ("https://", "http://"):
            self.session.mount(prefix, HTTPAdapter(max_retries=0))
        self.session.headers.update({"Accept": "application/json"})
        self._token: tuple[str, datetime] | None = None

    def _send(self, what: str, method: str, url: str, **kwargs: Any) -> Any:
        import requests

        self.limiter.acquire()
        try:
            return self.session.request(
                method, url, timeout=self.settings.timeout_seconds, **kwargs
            )
        except requests.Timeout as exc:
            raise TransientDeliveryError(f"ServiceNow {what}: timed out") from exc
        except requests.RequestException as exc:
            raise TransientDeliveryError(f"ServiceNow {what}: {type(exc).__name__}") from exc

    def _authorization(self) -> dict[str, Any]:
        basic, oauth = self.settings.auth.basic, self.settings.auth.oauth
        if basic is not None:
            return {"auth": (basic.username, basic.password)}
        assert oauth is not None
        if self._token is None or self._token[1] <= self.now():
            answer = self._send("sign-in", "POST", f"{self.base}/oauth_token.do", data={
                "grant_type": "client_credentials", "client_id": oauth.client_id,
                "client_secret": oauth.client_secret})  # fmt: skip
            if answer.status_code >= 400:
                raise status_error("sign-in", answer)
            body = answer.json()
            lifetime = max(0, int(body.get("expires_in") or 1800) - 60)
            self._token = (str(body["access_token"]), self.now() + timedelta(seconds=lifetime))
        return {"headers": {"Authorization": f"Bearer {self._token[0]}"}}

    def call(
        self,
        what: str,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> Any:
        """``method`` on ``<instance><path>``; the parsed JSON body (``{}`` when empty)."""
        for attempt in (1, 2):
            response = self._send(what, method, self.base + path, params=params, json=json,
                                  **self._authorization())  # fmt: skip
            if response.status_code == 401 and self.settings.auth.oauth and attempt == 1:
                self._token = None  # revoked or expired early: one more try with a new token
                continue
            if response.status_code >= 400:
                raise status_error(what, response)
            try:
                return response.json() if response.content else {}
            except ValueError as exc:
                raise TransientDeliveryError(f"ServiceNow {what}: the answer is not JSON") from exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.session.close()


def record_url(settings: ServiceNowSettings, sys_id: str) -> str:
    """Where an agent opens the case (the classic form; the workspace resolves it too)."""
    return (
        f"{settings.instance_url.rstrip('/')}/nav_to.do?uri={settings.table}.do%3Fsys_id%3D{sys_id}"
    )
