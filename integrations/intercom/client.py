"""What the Intercom destination and its doctor share: raw SDK responses, and their JSON.

python-intercom's models re-serialise what Intercom sent lossily, so both read the raw response.
"""

from __future__ import annotations

from typing import Any


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
