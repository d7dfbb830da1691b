"""The HTTP edge both the destination and the doctor use: one call, Chatwoot's errors mapped."""

from __future__ import annotations

from typing import Any

import requests

from integrations.base import TransientDeliveryError, error_for_status


class ChatwootClient:
    """``call(method, path)`` below ``/api/v1/accounts/<account>``; JSON in, JSON out."""

    def __init__(self, base_url: str, account_id: int, token: str, timeout: float):
        self.root = f"{base_url.rstrip('/')}/api/v1/accounts/{account_id}"
        self.session = requests.Session()
        self.session.headers.update({"api_access_token": token, "User-Agent": "handoff-connector"})
        self.timeout = timeout

    def call(
        self, method: str, path: str, body: Any = None, *, params: dict[str, Any] | None = None
    ) -> Any:
        try:
            response = self.session.request(
                method, self.root + path, json=body, params=params, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise TransientDeliveryError(
                f"Chatwoot {method} {path} failed: {type(exc).__name__}: {exc}"
            ) from exc
        if response.status_code >= 300:
            raise error_for_status(
                response.status_code,
                f"Chatwoot {method} {path} answered {response.status_code}",
                response=response.text[:2000],
                retry_after=response.headers.get("Retry-After"),
            )
        try:
            return response.json() if response.content else None
        except ValueError:
            return None

    def close(self) -> None:
        self.session.close()
