"""Our own format: signed JSON events in (``POST /v1/events``), signed JSON callbacks out.

Both directions carry ``X-Handoff-Signature: t=<unix seconds>,v1=<hex>,v2=<hex>``: ``v2`` is the
HMAC-SHA256 of ``"<t>.<METHOD>.<path>.<raw body>"`` under the source's secret, ``v1`` the deprecated
HMAC of ``"<t>.<raw body>"`` (refused with ``accept_v1_signatures: false``), and the receiver refuses
a timestamp outside the replay window (``connector/security.py``, docs/api.md). The callback body is the callback's document as it stands
in the outbox; ``X-Handoff-Delivery`` is the outbox key, the same on every retry, so the bot can
drop a repeat.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field, field_validator

from channels.base import BotChannel, ChannelAnswer, InboundRequest
from connector import security
from connector.deadline import post_within
from connector.errors import (
    PermanentDeliveryError,
    TransientDeliveryError,
    error_for_status,
)
from connector.outbox import Callback
from connector.schemas import Event, EventResponse, load_json

DELIVERY_HEADER = "X-Handoff-Delivery"
EVENT_HEADER = "X-Handoff-Event"

logger = logging.getLogger(__name__)


class NativeSettings(BaseModel):
    """A native source: the shared secret, and where its callbacks go (none: no callbacks)."""

    model_config = ConfigDict(extra="forbid")

    secret: str = Field(min_length=8)
    callback_url: str | None = None
    callback_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # v1 signatures do not cover the method and path; refuse them once the bot signs v2
    accept_v1_signatures: bool = True

    @field_validator("callback_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"^https?://[^\s/]+", url):
            raise ValueError("must be an http:// or https:// URL")
        return url


class NativeChannel(BotChannel):
    name = "native"
    settings_model = NativeSettings
    settings: NativeSettings

    def verify(self, request: InboundRequest, *, now: float) -> None:
        scheme = security.verify(
            self.settings.secret,
            request.headers.get(security.SIGNATURE_HEADER),
            request.body,
            now=now,
            window=self.replay_window_seconds,
            method=request.method,
            path=request.url_path,
            accept_v1=self.settings.accept_v1_signatures,
        )
        if scheme == "v1" and not self._warned_v1:
            self._warned_v1 = True  # once per process: enough to find the bot, not a log flood
            logger.warning(
                "bot source signs with the deprecated v1 scheme; move it to v2 and set "
                "accept_v1_signatures: false",
                extra={"source": self.source},
            )

    _warned_v1 = False

    def parse(self, request: InboundRequest, *, now: datetime) -> list[Event]:
        return [load_json(Event, request.body, self.bounds)]

    def answer(self, request: InboundRequest, responses: list[EventResponse]) -> ChannelAnswer:
        (response,) = responses
        return ChannelAnswer(200, response.model_dump_json(by_alias=True).encode())

    def render(self, callback: Callback, *, delivery_id: str) -> tuple[bytes, dict[str, str]]:
        """The callback as it goes on the wire: the exact body and its headers (signed now, v1 and
        v2 over the callback URL's path)."""
        url = self.settings.callback_url or "/"
        body = json.dumps(callback.body(), separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            security.SIGNATURE_HEADER: security.sign(
                self.settings.secret, body, method="POST", path=security.url_path(url)
            ),
            security.SOURCE_HEADER: self.source,
            DELIVERY_HEADER: delivery_id,
            EVENT_HEADER: callback.type,
            "User-Agent": "handoff-connector",
        }
        return body, headers

    def send(self, callback: Callback, *, delivery_id: str) -> dict[str, Any]:
        url = self.settings.callback_url
        if not url:
            raise PermanentDeliveryError(
                f"bot source {self.source!r} has no callback_url configured"
            )
        body, headers = self.render(callback, delivery_id=delivery_id)
        try:
            # the whole call, not each read: a bot that trickles its answer cannot hold a thread
            response = post_within(
                url, data=body, headers=headers, deadline=self.settings.callback_timeout_seconds
            )
        except requests.Timeout as exc:
            raise TransientDeliveryError(f"callback timed out: {exc}") from exc
        except requests.RequestException as exc:
            raise TransientDeliveryError(f"callback failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 300:
            raise error_for_status(
                response.status_code,
                f"bot callback answered {response.status_code}",
                response=response.text[:2000],
                retry_after=response.headers.get("Retry-After"),
            )
        return {"status": response.status_code}
