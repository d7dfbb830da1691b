"""Any JSON a no-code builder can POST (Typebot, Voiceflow, n8n, Zapier, …), mapped to our event.

A builder cannot compute an HMAC, so a ``mapped`` source authenticates with a per-source bearer
token (``Authorization: Bearer <secret>``, compared in constant time) and its config says where our
fields are in its body, as JMESPath expressions (``sources.<name>.map.*``), compiled and checked at
config time so ``handoff check-config`` names a bad expression by its key path.

Message ids must be stable across a builder's retries and across turns that re-send the history
(Typebot's transcript, Voiceflow's ``vf_memory``): a transcript turn's id is a hash of its role and
text plus how many identical turns came before it, and an event without a mapped ``event_id`` takes
the hash of the raw body, so a re-sent body is a duplicate and never a second event.

The answer is flat JSON a builder can branch on without parsing nested objects; callbacks (with
``callback_url``) are our callback documents, sent with the same bearer token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import datetime
from typing import Any

import jmespath
import jmespath.exceptions
import requests
from pydantic import BaseModel, ConfigDict, Field, field_validator

from channels.base import BotChannel, ChannelAnswer, InboundRequest
from connector.deadline import request_within
from connector.errors import BadRequest, TransientDeliveryError, Unauthorized, error_for_status
from connector.outbox import Callback
from connector.schemas import Event, EventResponse

KNOWN_CALLBACKS = (
    "control.changed",
    "conversation.handed_back",
    "customer.update",
    "agent.message",
)

# transcript line prefixes, lower-cased: Typebot's preset writes "User:"/"Assistant:", Voiceflow's
# vf_memory "user:"/"assistant:"; the rest are what hand-built flows tend to use
ROLE_PREFIXES = {
    "user": "customer",
    "customer": "customer",
    "human": "customer",
    "you": "customer",
    "assistant": "bot",
    "bot": "bot",
    "ai": "bot",
    "agent": "agent",
    "system": "system",
}
LINE = re.compile(r"^\s*(?P<role>[A-Za-z]+)\s*:\s?(?P<text>.*)$")


def _compile(expression: str) -> str:
    try:
        jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise ValueError(f"not a JMESPath expression: {exc}".splitlines()[0]) from None
    return expression


class FieldMap(BaseModel):
    """Where each of our fields is in the builder's body: one JMESPath expression each."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str = Field(min_length=1)
    text: str | None = None  # the customer's newest turn
    transcript: str | None = None  # a "Role: text" string (Typebot, vf_memory) or a list of turns
    event_id: str | None = None
    message_id: str | None = None
    handoff_requested: str | None = None  # truthy → handoff.requested
    reason: str | None = None
    summary: str | None = None
    intent: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    language: str | None = None
    ended: str | None = None  # truthy → conversation.ended

    @field_validator("*")
    @classmethod
    def _expression(cls, value: str | None) -> str | None:
        return None if value is None else _compile(value)


class MappedSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str = Field(min_length=16)  # the bearer token the builder sends
    map: FieldMap
    channel_label: str = Field(default="builder", max_length=100)  # conversation.channel
    callback_url: str | None = None
    callback_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("callback_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"^https?://[^\s/]+", url):
            raise ValueError("must be an http:// or https:// URL")
        return url


def turn_id(role: str, text: str, nth: int) -> str:
    """A turn's id from what it says: the same turn re-sent keeps its id."""
    return "t-" + hashlib.sha256(f"{role}\0{text}\0{nth}".encode()).hexdigest()[:20]


def transcript_turns(value: Any) -> list[tuple[str, str]]:
    """(role, text) pairs from a "Role: text" string (lines without a known prefix continue the
    previous turn) or a list of ``{role|type|speaker, text|content|message}`` objects."""
    turns: list[tuple[str, str]] = []
    if isinstance(value, str):
        for line in value.splitlines():
            match = LINE.match(line)
            role = ROLE_PREFIXES.get(match["role"].lower()) if match else None
            if match and role:
                turns.append((role, _unquote(match["text"])))
            elif turns and line.strip():
                role, text = turns[-1]
                turns[-1] = (role, f"{text}\n{_unquote(line.strip())}")
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, dict):
                raise ValueError("a transcript list holds objects")
            raw_role = str(item.get("role") or item.get("type") or item.get("speaker") or "")
            said = item.get("text", item.get("content", item.get("message")))
            if (found := ROLE_PREFIXES.get(raw_role.lower())) and isinstance(said, str):
                turns.append((found, said))
    elif value is not None:
        raise ValueError("the transcript is a string or a list")
    return [(role, text.strip()) for role, text in turns if text.strip()]


def _unquote(text: str) -> str:
    text = text.strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


class MappedChannel(BotChannel):
    name = "mapped"
    settings_model = MappedSettings
    settings: MappedSettings

    def verify(self, request: InboundRequest, *, now: float) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), self.settings.secret.encode()
        ):
            raise Unauthorized(
                "missing or wrong bearer token (Authorization: Bearer <secret>)", slug="bad-token"
            )

    def _get(self, body: Any, field: str) -> Any:
        expression = getattr(self.settings.map, field)
        if expression is None:
            return None
        try:
            return jmespath.search(expression, body)
        except jmespath.exceptions.JMESPathError as exc:  # a type error inside a function
            raise BadRequest(
                f"map.{field} ({expression}) failed on this body: {exc}", slug="malformed-mapped"
            ) from None

    def _string(self, body: Any, field: str, *, required: bool = False) -> str | None:
        value = self._get(body, field)
        if value is None or value == "":
            if required:
                raise BadRequest(
                    f"map.{field} ({getattr(self.settings.map, field)}) found nothing in the body",
                    slug="malformed-mapped",
                )
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise BadRequest(
                f"map.{field} ({getattr(self.settings.map, field)}) is a "
                f"{type(value).__name__}, not a string",
                slug="malformed-mapped",
            )
        return str(value)

    def parse(self, request: InboundRequest, *, now: datetime) -> list[Event]:
        try:
            body = json.loads(request.body)
        except ValueError as exc:
            raise BadRequest(f"the body is not JSON: {exc}", slug="malformed-mapped") from None
        conversation_id = self._string(body, "conversation_id", required=True)
        event_id = (
            self._string(body, "event_id") or "b-" + hashlib.sha256(request.body).hexdigest()[:24]
        )
        try:
            turns = transcript_turns(self._get(body, "transcript"))
        except ValueError as exc:
            raise BadRequest(f"map.transcript: {exc}", slug="malformed-mapped") from None
        seen: dict[tuple[str, str], int] = {}
        messages: list[dict[str, Any]] = []
        for role, text in turns:
            nth = seen[(role, text)] = seen.get((role, text), 0) + 1
            messages.append({"id": turn_id(role, text, nth), "role": role, "text": text})
        newest = self._string(body, "text")
        last_customer = next(
            (m["text"] for m in reversed(messages) if m["role"] == "customer"), None
        )
        if newest and newest != last_customer:  # the newest turn is often the transcript's last too
            message_id = self._string(body, "message_id") or f"{event_id}-text"
            messages.append({"id": message_id, "role": "customer", "text": newest})
        requested, ended = self._get(body, "handoff_requested"), self._get(body, "ended")
        reason, summary, intent = (self._string(body, f) for f in ("reason", "summary", "intent"))
        bot: dict[str, Any] = {"summary": summary}
        if intent:
            bot["intent"] = {"name": intent}
        if requested:
            bot["recommend_handoff"] = {"reason": reason or "the flow asked for a human"}
        kind = (
            "conversation.ended"
            if ended
            else "handoff.requested"
            if requested
            else "conversation.updated"
        )
        document = {
            "id": event_id,
            "type": kind,
            "occurred_at": now,
            "conversation": {
                "id": conversation_id,
                "channel": self.settings.channel_label,
                "language": self._string(body, "language"),
            },
            "customer": {
                "id": self._string(body, "customer_id"),
                "name": self._string(body, "customer_name"),
                "email": self._string(body, "customer_email"),
            },
            "messages": messages,
            "bot": bot,
        }
        try:
            return [Event.model_validate(document)]
        except ValueError as exc:
            raise BadRequest(
                f"the mapped event is not valid: {exc}".splitlines()[0], slug="malformed-mapped"
            ) from None

    def answer(self, request: InboundRequest, responses: list[EventResponse]) -> ChannelAnswer:
        (response,) = responses
        message = response.customer_message
        flat = {
            "escalate": response.decision.escalate,
            "owner": response.control.owner,
            "handoff_id": response.handoff.id if response.handoff else None,
            "team": response.decision.team,
            "message": message.text if message else "",
            "wait_minutes": message.wait_minutes if message else None,
            "duplicate": response.duplicate,
        }
        return ChannelAnswer(200, json.dumps(flat).encode())

    def send(self, callback: Callback, *, delivery_id: str) -> dict[str, Any]:
        if callback.type not in KNOWN_CALLBACKS:
            return {"skipped": f"mapped sources do not take {callback.type!r} callbacks"}
        url = self.settings.callback_url
        if not url:
            # a builder without a callback URL polls GET /v1/conversations/{id}/control instead
            return {"skipped": "no callback_url configured"}
        headers = {
            "Authorization": f"Bearer {self.settings.secret}",
            "X-Handoff-Delivery": delivery_id,
            "X-Handoff-Event": callback.type,
            "User-Agent": "handoff-connector",
        }
        try:
            response = request_within(
                "POST",
                url,
                json=callback.body(),
                headers=headers,
                deadline=self.settings.callback_timeout_seconds,
            )
        except requests.RequestException as exc:
            raise TransientDeliveryError(f"callback failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 300:
            raise error_for_status(
                response.status_code,
                f"builder callback answered {response.status_code}",
                response=response.text[:2000],
                retry_after=response.headers.get("Retry-After"),
            )
        return {"status": response.status_code}
