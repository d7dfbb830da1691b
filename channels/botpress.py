"""Botpress HITL: the connector is the external service of Botpress's ``hitl-api`` integration.

In: the integration POSTs ``{endpointBaseUrl}/<operation>`` with no signature of its own, so the
secret is the last path segment of the base URL it is given:
``https://<connector>/v1/channels/<source>/<secret>``, and Botpress calls
``…/<secret>/ping | createRemoteUser | createRemoteConversation | botSendsMessage |
closeRemoteTicket``.

- ``createRemoteUser`` answers an id that carries the user's name and e-mail (base64url JSON):
  later calls name the user only by that id, and a channel keeps no state of its own.
- ``createRemoteConversation`` (the bot's ``startHitl``) is a ``handoff.requested`` on a new
  conversation ``bp-<uuid>``, the id it answers; its title and description are the bot's reason,
  and its ``messages`` (when the integration sends them) the transcript so far.
- ``botSendsMessage`` is a turn on that conversation: the bot's when ``remoteUserId`` is ``BOT``,
  the customer's otherwise. The integration forwards every message of the HITL conversation, so
  the transcript is collected from these calls; nothing is fetched from the Botpress API.
- ``closeRemoteTicket`` names Botpress's own conversation id, which the integration never told us,
  so it is acknowledged and changes nothing; the handoff ends from the agent's side.

Botpress sends no message ids, so each call is a new turn (a re-sent call is a second turn).

Out (``webhook_url``, the integration's webhook): ``control.changed`` to ``agent`` →
``/agent-assigned``; ``agent.message`` and ``customer.update`` → ``/message-from-agent`` (a text
message; attachments as links); ``conversation.handed_back`` → ``/stop-hitl``, which returns the
conversation to the bot. Anything else is skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from channels.base import BotChannel, ChannelAnswer, InboundRequest
from channels.common import (
    build_event,
    check_token,
    parse_time,
    post_json,
    read_object,
    require,
    skipped,
)
from connector.errors import BadRequest, NotFound, PermanentDeliveryError
from connector.outbox import Callback
from connector.schemas import Event, EventResponse

SLUG = "malformed-hitl-call"
OPERATIONS = (
    "ping",
    "createRemoteUser",
    "createRemoteConversation",
    "botSendsMessage",
    "closeRemoteTicket",
)
BOT_USER = "BOT"  # the integration's remoteUserId for the bot's own messages
PREFIX = "bp-"
AGENT_USER = "handoff-agent"


class BotpressSettings(BaseModel):
    """A Botpress HITL source: ``secret`` ends the endpoint base URL given to the integration."""

    model_config = ConfigDict(extra="forbid")

    secret: str = Field(min_length=16, pattern=r"^[A-Za-z0-9_\-]+$")
    webhook_url: str  # the hitl-api integration's webhook, https://webhook.botpress.cloud/<id>
    callback_url: str | None = None  # shared by every source; refused here (below)
    callback_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not re.match(r"^https?://[^\s/]+", url):
            raise ValueError("must be an http:// or https:// URL")
        return url.rstrip("/")

    @field_validator("callback_url")
    @classmethod
    def _no_callback_url(cls, url: str | None) -> None:
        if url is not None:
            raise ValueError("not used by this channel: its callbacks go to webhook_url")
        return None


class BotpressChannel(BotChannel):
    name = "botpress"
    settings_model = BotpressSettings
    settings: BotpressSettings

    # in -------------------------------------------------------------------------------------------
    def verify(self, request: InboundRequest, *, now: float) -> None:
        token, _, _ = request.path.strip("/").partition("/")
        check_token(
            token,
            self.settings.secret,
            where="the secret as the last segment of the integration's endpointBaseUrl",
        )

    @staticmethod
    def operation(request: InboundRequest) -> str:
        _, _, operation = request.path.strip("/").partition("/")
        if operation not in OPERATIONS:
            raise NotFound(
                f"no hitl-api endpoint {operation!r}; known: {', '.join(OPERATIONS)}",
                slug="unknown-hitl-endpoint",
            )
        return operation

    def parse(self, request: InboundRequest, *, now: datetime) -> list[Event]:
        operation = self.operation(request)
        if operation == "ping":
            return []
        body = read_object(
            request.body, self.bounds, what=f"a hitl-api {operation} call", slug=SLUG
        )
        if body.get("type") != operation:
            raise BadRequest(f"type must be {operation!r}", slug=SLUG)
        if operation == "createRemoteConversation":
            return [self._started(require(body, "payload", slug=SLUG, kind=dict), now)]
        if operation == "botSendsMessage":
            return [self._turn(body, now)]
        if operation == "createRemoteUser":
            require(body, "payload", slug=SLUG, kind=dict)
        else:
            require(body, "payload.botpressConversationId", slug=SLUG)
        return []

    def _started(self, payload: dict[str, Any], now: datetime) -> Event:
        conversation = f"{PREFIX}{uuid.uuid4().hex}"
        title, description = str(payload.get("title") or ""), str(payload.get("description") or "")
        history = payload.get("messages") or []
        if not isinstance(history, list):
            raise BadRequest("payload.messages must be an array", slug=SLUG)
        messages = []
        for i, item in enumerate(history):
            text = item.get("text") if isinstance(item, dict) else None
            if not isinstance(text, str):
                raise BadRequest(f"payload.messages[{i}].text is missing", slug=SLUG)
            author = str(item.get("author") or "")
            messages.append(
                {
                    "id": f"h{i}",
                    "role": "bot" if author.lower() in ("bot", "") else "customer",
                    "text": text,
                    "at": parse_time(item.get("timestamp")),
                }
            )
        reason = ": ".join(part for part in (title, description) if part) or "the bot started HITL"
        return build_event(
            {
                "id": f"{conversation}:start",
                "type": "handoff.requested",
                "occurred_at": now,
                "conversation": {"id": conversation, "channel": "botpress"},
                "messages": messages,
                "bot": {
                    "recommend_handoff": {"reason": reason[:2000]},
                    "summary": description[:5000] or None,
                },
            },
            self.bounds,
            what="the createRemoteConversation payload",
            slug=SLUG,
        )

    def _turn(self, body: dict[str, Any], now: datetime) -> Event:
        conversation = require(body, "remoteConversationId", slug=SLUG)
        user = require(body, "remoteUserId", slug=SLUG)
        payload = require(body, "payload", slug=SLUG, kind=dict)
        text = payload.get("text") or payload.get("markdown")
        if not isinstance(text, str):  # an image, a card, a file: say what it was
            kind = payload.get("type") or next(iter(payload), "message")
            text = f"[{kind}]"
        turn = uuid.uuid4().hex
        is_bot = user == BOT_USER
        return build_event(
            {
                "id": f"{conversation}:{turn}",
                "type": "conversation.updated",
                "occurred_at": now,
                "conversation": {"id": conversation, "channel": "botpress"},
                "customer": {} if is_bot else _user_of(user),
                "messages": [
                    {"id": turn, "role": "bot" if is_bot else "customer", "text": text, "at": now}
                ],
            },
            self.bounds,
            what="the botSendsMessage payload",
            slug=SLUG,
        )

    def answer(self, request: InboundRequest, responses: list[EventResponse]) -> ChannelAnswer:
        operation = self.operation(request)
        body: dict[str, Any] = {}
        if operation == "createRemoteConversation":
            body = {"id": responses[0].event_id.removesuffix(":start")}
        elif operation == "createRemoteUser":
            payload = json.loads(request.body).get("payload") or {}
            body = {"id": _user_id(payload)}
        return ChannelAnswer(200, json.dumps(body).encode())

    # out ------------------------------------------------------------------------------------------
    def send(self, callback: Callback, *, delivery_id: str) -> dict[str, Any]:
        fields = callback.fields
        conversation = str(fields.get("conversation_id") or "")
        if callback.type not in (
            "control.changed",
            "agent.message",
            "customer.update",
            "conversation.handed_back",
        ):
            return skipped(callback.type, "not a Botpress HITL event")
        if not conversation.startswith(PREFIX):
            raise PermanentDeliveryError(
                f"conversation {conversation!r} did not come from Botpress HITL"
            )
        if callback.type == "control.changed":
            if fields.get("owner") != "agent":
                return skipped(callback.type, "Botpress only hears of an agent taking over")
            return self._post(
                "agent-assigned", {"remoteConversationId": conversation, "remoteUserId": AGENT_USER}
            )
        if callback.type == "conversation.handed_back":
            return self._post("stop-hitl", {"remoteConversationId": conversation})
        author = fields.get("author") if isinstance(fields.get("author"), dict) else {}
        text = str(fields.get("text") or "")
        for item in fields.get("attachments") or []:
            if isinstance(item, dict) and item.get("url"):
                text += f"\n[{item.get('name') or item['url']}]({item['url']})"
        return self._post(
            "message-from-agent",
            {
                "remoteConversationId": conversation,
                "remoteUserId": str((author or {}).get("id") or AGENT_USER),
                "messageType": "text",
                "payload": {"text": text},
            },
        )

    def _post(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = post_json(
            f"{self.settings.webhook_url}/{operation}",
            body,
            headers={},
            timeout=self.settings.callback_timeout_seconds,
            what=f"Botpress webhook {operation}",
        )
        return {"status": answer.status_code, "webhook": operation}


def _user_id(payload: dict[str, Any]) -> str:
    """A remote user id carrying the user's name and e-mail, so later calls need no lookup."""
    known = {key: str(payload[key])[:120] for key in ("name", "email") if payload.get(key)}
    encoded = base64.urlsafe_b64encode(json.dumps(known, separators=(",", ":")).encode()).decode()
    return "u." + encoded.rstrip("=")


def _user_of(remote_user_id: str) -> dict[str, Any]:
    """The customer a ``_user_id`` id names; an id of another shape is only an id."""
    if remote_user_id.startswith("u."):
        raw = remote_user_id[2:]
        try:
            known = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except (ValueError, binascii.Error):
            known = None
        if isinstance(known, dict):
            # the id itself is too long for a customer id; its name and e-mail are what matter
            return {"name": known.get("name"), "email": known.get("email")}
    return {"id": remote_user_id[:200]}
