"""Chatwoot Agent Bot: the connector is the agent bot of a Chatwoot inbox.

In: Chatwoot POSTs its agent-bot webhooks (``message_created``, ``message_updated``,
``conversation_opened``, ``conversation_resolved``, ``webwidget_triggered``) to the bot's
``outgoing_url``, ``/v1/channels/<source>``. Each public message becomes a turn of the transcript
(incoming → customer, outgoing from a user → agent, other outgoing → bot); a resolved conversation
ends ours. Newer Chatwoot signs the body (``X-Chatwoot-Signature: sha256=<HMAC-SHA256 of
"<X-Chatwoot-Timestamp>.<raw body>">``); Chatwoot without signing puts the secret in the URL
instead (``?token=``), accepted only with ``require_signature: false``.

Out: the hand-off happens the Chatwoot way when ``control.changed`` moves to ``pending_agent``: a
private note with the reason and handoff id, the connector's wait message to the customer, the
configured labels (merged: Chatwoot's label call
replaces the set), the team from our routing (``team_ids``), and ``toggle_status`` → ``open``, which
is what makes Chatwoot hand a bot conversation to humans. ``conversation.handed_back`` posts a note
and sets the conversation back to ``pending`` (the bot's state); ``agent.message`` and
``customer.update`` are outgoing messages the customer sees. Every step is idempotent or looked up
before it is repeated (see ``_post_message_once``), so an outbox retry never posts twice.

Conversation ids are ``chatwoot:<account>:<display id>``: the display id is what Chatwoot's
payloads and API paths use, the account keeps two Chatwoot accounts apart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from channels.base import BotChannel, ChannelAnswer, InboundRequest
from channels.common import call_json
from connector.errors import (
    BadRequest,
    PermanentDeliveryError,
    Unauthorized,
)
from connector.outbox import Callback
from connector.schemas import Event, EventResponse

SIGNATURE_HEADER = "X-Chatwoot-Signature"
TIMESTAMP_HEADER = "X-Chatwoot-Timestamp"
# the events an agent bot receives that carry nothing for the transcript
QUIET_EVENTS = ("message_updated", "conversation_opened", "webwidget_triggered")


class ChatwootSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str = Field(min_length=8)  # the agent bot's webhook secret
    base_url: str  # e.g. https://app.chatwoot.com
    account_id: int = Field(ge=1)
    api_access_token: str = Field(min_length=1)  # the agent bot's access token
    # Chatwoot's API lists only user tokens for labels: without one, labels are left alone
    user_access_token: str | None = None
    labels: list[str] = Field(default_factory=lambda: ["handoff"])
    team_ids: dict[str, int] = Field(default_factory=dict)  # our team name → Chatwoot team id
    require_signature: bool = True
    tell_customer: bool = True  # post the connector's wait message to the customer at hand-off
    callback_url: None = None  # shared key: Chatwoot is answered through its API, not a URL
    callback_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not re.match(r"^https?://[^\s/]+", url):
            raise ValueError("must be an http:// or https:// URL")
        return url.rstrip("/")


def conversation_key(account_id: int, display_id: Any) -> str:
    return f"chatwoot:{account_id}:{display_id}"


def display_id_of(conversation_id: str) -> str:
    """The Chatwoot display id from our conversation id (``PermanentDeliveryError`` if not ours)."""
    prefix, _, rest = conversation_id.partition(":")
    account, _, display = rest.partition(":")
    if prefix != "chatwoot" or not display.isdigit() or not account.isdigit():
        raise PermanentDeliveryError(f"{conversation_id!r} is not a Chatwoot conversation id")
    return display


def _at(value: Any) -> datetime | None:
    """Chatwoot sends times as ISO strings (webhook_data) or unix seconds (push_event_data)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


class ChatwootChannel(BotChannel):
    name = "chatwoot"
    settings_model = ChatwootSettings
    settings: ChatwootSettings

    # in -------------------------------------------------------------------------------------------
    def verify(self, request: InboundRequest, *, now: float) -> None:
        signature = request.headers.get(SIGNATURE_HEADER)
        if signature is None:
            token = request.query.get("token", "")
            if (
                not self.settings.require_signature
                and token
                and hmac.compare_digest(token.encode(), self.settings.secret.encode())
            ):
                return
            raise Unauthorized(
                f"missing {SIGNATURE_HEADER} header"
                + ("" if self.settings.require_signature else " (or ?token= in the bot URL)"),
                slug="missing-signature",
            )
        stamp = request.headers.get(TIMESTAMP_HEADER, "")
        if not stamp.isdigit():
            raise Unauthorized(f"{TIMESTAMP_HEADER} must be unix seconds", slug="bad-signature")
        if abs(now - int(stamp)) > self.replay_window_seconds:
            raise Unauthorized(
                f"{TIMESTAMP_HEADER} is {int(now - int(stamp))} s away from the server clock; the "
                f"window is ±{self.replay_window_seconds} s (replayed request or unsynchronised clock)",
                slug="stale-signature",
            )
        expected = hmac.new(
            self.settings.secret.encode(), stamp.encode() + b"." + request.body, hashlib.sha256
        ).hexdigest()
        presented = signature.strip().removeprefix("sha256=").lower()
        if not hmac.compare_digest(expected, presented):
            raise Unauthorized(
                "signature does not match the body and the agent bot's secret", slug="bad-signature"
            )

    def parse(self, request: InboundRequest, *, now: datetime) -> list[Event]:
        try:
            body = json.loads(request.body)
        except ValueError as exc:
            raise BadRequest(f"the body is not JSON: {exc}", slug="malformed-chatwoot") from None
        if not isinstance(body, dict) or not isinstance(body.get("event"), str):
            raise BadRequest(
                "a Chatwoot webhook is an object with an 'event'", slug="malformed-chatwoot"
            )
        kind = body["event"]
        try:
            if kind == "message_created":
                return self._message(body, now)
            if kind == "conversation_resolved":
                return self._resolved(body, now)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadRequest(
                f"{kind}: missing or malformed field {exc}", slug="malformed-chatwoot"
            ) from None
        return []  # QUIET_EVENTS and events added later: acknowledged, nothing to decide

    def _message(self, body: dict[str, Any], now: datetime) -> list[Event]:
        if body.get("private") or body.get("message_type") not in ("incoming", "outgoing"):
            return []  # private notes (ours too) and activity/template messages are not turns
        conversation = body["conversation"]
        sender = body.get("sender") or {}
        if body["message_type"] == "incoming":
            role = "customer"
        elif sender.get("type") == "agent_bot":
            return []  # the connector is the inbox's agent bot: this is our own relay coming back
        else:
            role = "agent" if sender.get("type") == "user" else "bot"  # e.g. Captain answering
        text = body.get("content") or ""
        files = [
            f"[{a.get('file_type', 'file')}: {a.get('data_url', '')}]"
            for a in body.get("attachments") or []
            if isinstance(a, dict)
        ]
        text = "\n".join([text, *files]).strip()
        if not text:
            return []
        contact = (
            sender if role == "customer" else (conversation.get("meta") or {}).get("sender") or {}
        )
        message_id = int(body["id"])
        return [
            Event.model_validate(
                {
                    "id": f"chatwoot:{self.settings.account_id}:message:{message_id}",
                    "type": "conversation.updated",
                    "occurred_at": _at(body.get("created_at")) or now,
                    "conversation": {
                        "id": conversation_key(self.settings.account_id, int(conversation["id"])),
                        "channel": "chatwoot",
                    },
                    "customer": {
                        "id": str(contact["id"]) if contact.get("id") is not None else None,
                        "name": contact.get("name"),
                        "email": contact.get("email"),
                        "phone": contact.get("phone_number"),
                    },
                    "messages": [
                        {
                            "id": f"cw-{message_id}",
                            "role": role,
                            "text": text,
                            "at": _at(body.get("created_at")),
                        }
                    ],
                }
            )
        ]

    def _resolved(self, body: dict[str, Any], now: datetime) -> list[Event]:
        display_id = int(body["id"])
        stamp = body.get("updated_at") or body.get("timestamp") or ""
        return [
            Event.model_validate(
                {
                    "id": f"chatwoot:{self.settings.account_id}:resolved:{display_id}:{stamp}",
                    "type": "conversation.ended",
                    "occurred_at": now,
                    "conversation": {
                        "id": conversation_key(self.settings.account_id, display_id),
                        "channel": "chatwoot",
                    },
                }
            )
        ]

    def answer(self, request: InboundRequest, responses: list[EventResponse]) -> ChannelAnswer:
        # Chatwoot ignores the body; it is there for whoever reads the webhook's delivery log
        body = {
            "events": len(responses),
            "escalated": any(r.decision.escalate for r in responses),
            "handoff_id": next((r.handoff.id for r in responses if r.handoff), None),
        }
        return ChannelAnswer(200, json.dumps(body).encode())

    # out ------------------------------------------------------------------------------------------
    def send(self, callback: Callback, *, delivery_id: str) -> dict[str, Any]:
        fields = callback.fields
        conversation_id = str(fields.get("conversation_id") or callback.conversation_id or "")
        if callback.type == "control.changed":
            if fields.get("owner") != "pending_agent":
                return {
                    "skipped": f"control moved to {fields.get('owner')}: Chatwoot shows it itself"
                }
            return self._hand_off(display_id_of(conversation_id), callback)
        if callback.type == "conversation.handed_back":
            display = display_id_of(conversation_id)
            note = (
                f"Handed back to the bot by {fields.get('actor') or 'an agent'}: "
                f"{fields.get('note') or ''} (handoff {fields.get('handoff_id')})"
            )
            posted = self._post_message_once(
                display, note, private=True, since=callback.occurred_at
            )
            self._call("POST", display, "toggle_status", {"status": "pending"})
            return {"note": posted, "status": "pending"}
        if callback.type in ("agent.message", "customer.update"):
            text = str(fields.get("text") or "")
            links = [
                f"{a.get('name') or 'attachment'}: {a.get('url')}"
                for a in fields.get("attachments") or []
                if isinstance(a, dict) and a.get("url")
            ]
            text = "\n".join([text, *links]).strip()
            if not text:
                return {"skipped": "nothing to say"}
            return {
                "message": self._post_message_once(
                    display_id_of(conversation_id), text, private=False, since=callback.occurred_at
                )
            }
        return {"skipped": f"Chatwoot sources do not take {callback.type!r} callbacks"}

    def _hand_off(self, display: str, callback: Callback) -> dict[str, Any]:
        fields = callback.fields
        team = fields.get("team")
        note = f"Bot handoff {fields.get('handoff_id')}: {fields.get('reason') or 'escalated'}" + (
            f". Team: {team}" if team else ""
        )
        done: dict[str, Any] = {
            "note": self._post_message_once(display, note, private=True, since=callback.occurred_at)
        }
        if self.settings.tell_customer and fields.get("customer_message"):
            # the wait message of our answer: Chatwoot ignores a bot's webhook answer
            done["customer_message"] = self._post_message_once(
                display, str(fields["customer_message"]), private=False, since=callback.occurred_at
            )
        if self.settings.labels and self.settings.user_access_token:
            current = self._call("GET", display, "labels", token=self.settings.user_access_token)
            have = list((current or {}).get("payload") or [])
            wanted = have + [label for label in self.settings.labels if label not in have]
            if wanted != have:
                self._call(
                    "POST",
                    display,
                    "labels",
                    {"labels": wanted},
                    token=self.settings.user_access_token,
                )
            done["labels"] = wanted
        team_id = self.settings.team_ids.get(str(team)) if team else None
        if team_id is not None:
            self._call("POST", display, "assignments", {"team_id": team_id})
            done["team_id"] = team_id
        self._call("POST", display, "toggle_status", {"status": "open"})
        done["status"] = "open"
        return done

    def _post_message_once(self, display: str, content: str, *, private: bool, since: str) -> str:
        """Post a message unless a retry already did: Chatwoot messages take no idempotency key,
        so look for the same content and kind created at or after the callback was queued."""
        after = _at(since)
        listed = self._call("GET", display, "messages") or {}
        for message in listed.get("payload") or []:
            created = _at(message.get("created_at"))
            if (
                message.get("content") == content
                and bool(message.get("private")) == private
                and message.get("message_type") in (1, "outgoing")
                and (
                    after is None
                    or (created is not None and created >= after.replace(microsecond=0))
                )
            ):
                return "already posted"
        self._call(
            "POST",
            display,
            "messages",
            {"content": content, "message_type": "outgoing", "private": private},
        )
        return "posted"

    def _call(
        self,
        method: str,
        display: str,
        action: str,
        body: dict[str, Any] | None = None,
        *,
        token: str | None = None,
    ) -> Any:
        url = (
            f"{self.settings.base_url}/api/v1/accounts/{self.settings.account_id}"
            f"/conversations/{display}/{action}"
        )
        headers = {
            "api_access_token": token or self.settings.api_access_token,
            "User-Agent": "handoff-connector",
        }
        return call_json(
            method,
            url,
            json=body,
            headers=headers,
            timeout=self.settings.callback_timeout_seconds,
            what=f"Chatwoot {method} {action}",
        )
