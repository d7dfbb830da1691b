"""Microsoft Bot Framework and Copilot Studio: the connector is the bot's agent hub.

In: the bot (or a forwarder beside it) POSTs Bot Framework activities, as it sends them to its
channel, to ``/v1/channels/<source>`` or to the Connector API paths under it
(``…/v3/conversations/<id>/activities[/<replyToId>]``), with ``Authorization: Bearer <secret>``.

- ``event`` named ``handoff.initiate`` (the Handoff Library protocol; Copilot Studio's "Transfer
  to agent") is a ``handoff.requested``. Its ``value`` is the hub context: Copilot Studio's
  ``va_AgentMessage`` is the bot's reason, ``va_LastTopic`` its intent, ``va_Language`` the
  language; other keys become customer attributes. A ``Transcript`` attachment (any attachment
  whose ``content.activities`` is a list: the sample library spells the name "Trasnscript") gives
  the conversation so far.
- ``message`` is a turn (the bot's when ``from.role`` is ``bot``, the customer's otherwise);
  ``endOfConversation`` ends the conversation; other activity types are acknowledged and ignored.

Answer: to ``handoff.initiate``, the ``handoff.status`` event activity: ``accepted`` (with the
message for the customer and the handoff id) or ``failed`` with a message; to anything else the
Connector API's ``ResourceResponse`` ``{"id": …}``.

Out: activities posted into the conversation through Direct Line 3.0
(``POST {directline_url}/v3/directline/conversations/<id>/activities``, ``Bearer`` Direct Line
secret), the way a hub talks to a Copilot Studio agent: ``control.changed`` away from the bot →
``handoff.status`` ``accepted``; ``conversation.handed_back`` → ``handoff.status`` ``completed``
(with the agent's note); ``agent.message`` → a ``message`` from the agent (attachments by URL);
``customer.update`` → a ``message`` from the connector. Other callbacks are skipped.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from channels.base import BotChannel, ChannelAnswer, InboundRequest
from channels.common import (
    bearer,
    build_event,
    check_token,
    parse_time,
    post_json,
    read_object,
    require,
    skipped,
)
from connector.errors import BadRequest
from connector.outbox import Callback
from connector.schemas import Event, EventResponse

SLUG = "malformed-activity"
INITIATE = "handoff.initiate"
STATUS = "handoff.status"
VA_FIELDS = (
    "va_AgentMessage",
    "va_LastTopic",
    "va_Language",
    "va_Scope",
    "va_Topics",
    "va_LastPhrases",
    "va_Phrases",
    "va_ConversationId",
    "va_BotId",
    "va_BotName",
)


class BotFrameworkSettings(BaseModel):
    """A Bot Framework / Copilot Studio source: ``secret`` is the bearer token the bot presents,
    ``directline_secret`` the Direct Line secret of the bot (Copilot Studio: Settings → Security
    → Web channel security) for the way back."""

    model_config = ConfigDict(extra="forbid")

    secret: str = Field(min_length=8)
    directline_secret: str = Field(min_length=8)
    directline_url: str = "https://directline.botframework.com"
    hub_id: str = "handoff-connector"  # ``from.id`` of what the hub posts
    hub_name: str = "Support"
    callback_url: str | None = None  # shared by every source; refused here (below)
    callback_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("directline_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not re.match(r"^https?://[^\s/]+", url):
            raise ValueError("must be an http:// or https:// URL")
        return url.rstrip("/")

    @field_validator("callback_url")
    @classmethod
    def _no_callback_url(cls, url: str | None) -> None:
        if url is not None:
            raise ValueError(
                "not used by this channel: its callbacks go through Direct Line (directline_url)"
            )
        return None


class BotFrameworkChannel(BotChannel):
    name = "botframework"
    settings_model = BotFrameworkSettings
    settings: BotFrameworkSettings

    # in -------------------------------------------------------------------------------------------
    def verify(self, request: InboundRequest, *, now: float) -> None:
        check_token(bearer(request.headers), self.settings.secret)

    def parse(self, request: InboundRequest, *, now: datetime) -> list[Event]:
        activity = read_object(
            request.body, self.bounds, what="a Bot Framework activity", slug=SLUG
        )
        kind = require(activity, "type", slug=SLUG)
        conversation = require(activity, "conversation.id", slug=SLUG)
        activity_id = activity.get("id") or hashlib.sha256(request.body).hexdigest()[:32]
        if not isinstance(activity_id, str):
            raise BadRequest("id must be a string", slug=SLUG)
        at = parse_time(activity.get("timestamp")) or now
        base: dict[str, Any] = {
            "id": activity_id,
            "occurred_at": at,
            "conversation": {
                "id": conversation,
                "channel": str(activity.get("channelId") or "botframework"),
                "language": activity.get("locale") or None,
            },
        }
        if kind == "event" and activity.get("name") == INITIATE:
            return [self._initiate(activity, base)]
        if kind == "message":
            # only a bot posts to the Connector API paths; elsewhere the sender's role decides
            from_bot = (
                request.path.startswith("v3/conversations/")
                and _role(activity.get("from")) != "user"
            )
            role = "bot" if from_bot or _role(activity.get("from")) == "bot" else "customer"
            data = {
                **base,
                "type": "conversation.updated",
                "messages": [
                    {
                        "id": activity_id,
                        "role": role,
                        "text": str(activity.get("text") or ""),
                        "at": at,
                    }
                ],
            }
            if role == "customer":
                data["customer"] = _account(activity.get("from"))
            return [build_event(data, self.bounds, what="the message activity", slug=SLUG)]
        if kind == "endOfConversation":
            return [
                build_event(
                    {**base, "type": "conversation.ended"},
                    self.bounds,
                    what="the endOfConversation activity",
                    slug=SLUG,
                )
            ]
        return []  # typing, conversationUpdate, traces…: nothing a handoff needs

    def _initiate(self, activity: dict[str, Any], base: dict[str, Any]) -> Event:
        value = activity.get("value") if activity.get("value") is not None else {}
        if not isinstance(value, dict):
            raise BadRequest("value of handoff.initiate must be an object", slug=SLUG)
        messages = []
        for i, turn in enumerate(_transcript(activity.get("attachments"))):
            if turn.get("type") != "message" or not isinstance(turn.get("text"), str):
                continue
            messages.append(
                {
                    "id": str(turn.get("id") or f"{base['id']}:t{i}"),
                    "role": "bot" if _role(turn.get("from")) == "bot" else "customer",
                    "text": turn["text"],
                    "at": parse_time(turn.get("timestamp")),
                }
            )
        # the customer: the initiate goes from the bot to the user, so the user is its recipient
        customer = (
            _account(activity.get("recipient"))
            if _role(activity.get("from")) == "bot"
            else _account(activity.get("from"))
        )
        customer["attributes"] = {
            k: v
            for k, v in value.items()
            if k not in VA_FIELDS and isinstance(v, str | int | float | bool)
        }
        bot: dict[str, Any] = {
            "recommend_handoff": {
                "reason": str(
                    value.get("va_AgentMessage")
                    or value.get("reason")
                    or "the bot sent handoff.initiate"
                )[:2000]
            }
        }
        if value.get("va_LastTopic"):
            bot["intent"] = {"name": str(value["va_LastTopic"])[:200]}
        conversation = dict(base["conversation"])
        if value.get("va_Language") and not conversation.get("language"):
            conversation["language"] = str(value["va_Language"])[:20]
        return build_event(
            {
                **base,
                "type": "handoff.requested",
                "conversation": conversation,
                "customer": customer,
                "messages": messages,
                "bot": bot,
            },
            self.bounds,
            what="the handoff.initiate activity",
            slug=SLUG,
        )

    def answer(self, request: InboundRequest, responses: list[EventResponse]) -> ChannelAnswer:
        activity = json.loads(request.body)
        if not (activity.get("type") == "event" and activity.get("name") == INITIATE):
            return ChannelAnswer(
                200,
                json.dumps(
                    {"id": responses[0].event_id if responses else str(activity.get("id") or "")}
                ).encode(),
            )
        (response,) = responses
        # already with a person (an earlier turn escalated): the initiate is accepted all the same
        handoff_id = (
            response.handoff.id if response.handoff is not None else response.control.handoff_id
        )
        if handoff_id and (response.decision.escalate or response.control.owner != "bot"):
            value: dict[str, Any] = {
                "state": "accepted",
                "handoff_id": handoff_id,
                "team": response.decision.team,
            }
            if response.customer_message is not None:
                value["message"] = response.customer_message.text
        else:
            value = {
                "state": "failed",
                "message": "the handoff policy kept the conversation with the bot",
            }
        status = self._activity(
            "event",
            activity["conversation"]["id"],
            name=STATUS,
            value=value,
            replyToId=activity.get("id"),
            recipient=activity.get("from"),
        )
        return ChannelAnswer(200, json.dumps(status).encode())

    # out ------------------------------------------------------------------------------------------
    def send(self, callback: Callback, *, delivery_id: str) -> dict[str, Any]:
        fields = callback.fields
        conversation = str(fields.get("conversation_id") or "")
        if callback.type == "control.changed":
            if fields.get("owner") == "bot":
                return skipped(
                    callback.type, "the bot hears of the handback as handoff.status completed"
                )
            activity = self._activity(
                "event",
                conversation,
                name=STATUS,
                value={
                    "state": "accepted",
                    "owner": fields.get("owner"),
                    "handoff_id": fields.get("handoff_id"),
                },
            )
        elif callback.type == "conversation.handed_back":
            activity = self._activity(
                "event",
                conversation,
                name=STATUS,
                value={
                    "state": "completed",
                    "message": fields.get("note"),
                    "handoff_id": fields.get("handoff_id"),
                    "resolution": fields.get("resolution"),
                    "resume_hint": fields.get("resume_hint"),
                },
            )
        elif callback.type == "agent.message":
            author = fields.get("author") if isinstance(fields.get("author"), dict) else {}
            activity = self._activity("message", conversation, text=str(fields.get("text") or ""))
            activity["from"] = {
                "id": f"agent:{(author or {}).get('id') or 'agent'}",
                "name": str((author or {}).get("name") or self.settings.hub_name),
            }
            attachments = [
                {
                    "contentType": item.get("content_type") or "application/octet-stream",
                    "contentUrl": item["url"],
                    "name": item.get("name"),
                }
                for item in fields.get("attachments") or []
                if isinstance(item, dict) and item.get("url")
            ]
            if attachments:
                activity["attachments"] = attachments
        elif callback.type == "customer.update":
            activity = self._activity("message", conversation, text=str(fields.get("text") or ""))
        else:
            return skipped(callback.type, "no Bot Framework activity for it")
        # the outbox key is the same on every retry, so the bot can drop a repeat
        activity["channelData"] = {"handoffDelivery": delivery_id, "handoffCallback": callback.type}
        url = (
            f"{self.settings.directline_url}/v3/directline/conversations/"
            f"{quote(conversation, safe='')}/activities"
        )
        answer = post_json(
            url,
            activity,
            headers={"Authorization": f"Bearer {self.settings.directline_secret}"},
            timeout=self.settings.callback_timeout_seconds,
            what="Direct Line",
        )
        return {
            "status": answer.status_code,
            "activity": activity["type"],
            "name": activity.get("name"),
        }

    def _activity(self, kind: str, conversation: str, **extra: Any) -> dict[str, Any]:
        activity = {
            "type": kind,
            "conversation": {"id": conversation},
            "from": {"id": self.settings.hub_id, "name": self.settings.hub_name},
            **extra,
        }
        return {key: value for key, value in activity.items() if value is not None}


def _role(account: Any) -> str:
    return str(account.get("role") or "") if isinstance(account, dict) else ""


def _account(account: Any) -> dict[str, Any]:
    """A ChannelAccount as our customer (id and name only)."""
    if not isinstance(account, dict):
        return {}
    return {key: str(account[key])[:200] for key in ("id", "name") if account.get(key)}


def _transcript(attachments: Any) -> list[dict[str, Any]]:
    """The activities of the first attachment carrying a transcript."""
    for attachment in attachments if isinstance(attachments, list) else []:
        content = attachment.get("content") if isinstance(attachment, dict) else None
        activities = content.get("activities") if isinstance(content, dict) else None
        if isinstance(activities, list):
            return [a for a in activities if isinstance(a, dict)]
    return []
