"""Dialogflow CX: the connector is the agent's webhook.

In: Dialogflow POSTs a ``WebhookRequest`` (proto3 JSON, lowerCamelCase) for every fulfillment that
calls the webhook; ``Authorization: Bearer <secret>`` is set in the webhook's custom headers. The
session path (``sessionInfo.session``) is our conversation id, ``detectIntentResponseId`` the
event id (a retried call maps to the same event). Dialogflow sends no transcript, so each call
brings its own turn: the customer's ``text`` (or ``transcript``) and the bot messages already
queued in ``messages``; the store keeps them per conversation. A call whose
``fulfillmentInfo.tag`` is one of ``handoff_tags`` is the bot asking for a human.

Answer: a ``WebhookResponse``. On escalation its ``fulfillmentResponse.messages`` carry the
customer message and a ``liveAgentHandoff`` whose metadata holds the handoff id, team and
priority (Dialogflow only records it; the integration in front of the agent acts on it). The
session parameter ``handoff_owner`` always says who owns the conversation, for flow conditions.

Out: ``conversation.handed_back`` is a ``detectIntent`` on the same session with the event input
``handback_event`` (Dialogflow's way back to the bot). Dialogflow cannot push a message to the
customer, so ``agent.message``, ``customer.update`` and ``control.changed`` are skipped, with the
reason in the result.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from channels.base import BotChannel, ChannelAnswer, InboundRequest
from channels.common import (
    bearer,
    build_event,
    check_token,
    post_json,
    read_object,
    require,
    skipped,
)
from connector.errors import BadRequest, PermanentDeliveryError, TransientDeliveryError
from connector.outbox import Callback
from connector.schemas import Event, EventResponse

SLUG = "malformed-webhook-request"
SESSION = re.compile(
    r"^projects/[^/]+/locations/(?P<location>[^/]+)/agents/[^/]+/"
    r"(environments/[^/]+/)?sessions/[^/]+$"
)


class DialogflowSettings(BaseModel):
    """A Dialogflow CX source. ``secret`` is the bearer token of the webhook's custom header."""

    model_config = ConfigDict(extra="forbid")

    secret: str = Field(min_length=8)
    callback_url: str | None = None  # shared by every source; refused here (below)
    callback_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    handoff_tags: list[str] = Field(default_factory=lambda: ["handoff"], min_length=1)
    reason_parameter: str = "handoff_reason"
    handback_event: str = "handback"
    language_code: str = "en"
    # where detectIntent goes; empty: the regional endpoint of the session's location
    api_url: str = ""
    # a service account key file (needs the google-auth package), or a static token (tests, proxies)
    credentials_file: str | None = None
    access_token: str | None = None

    @field_validator("callback_url")
    @classmethod
    def _no_callback_url(cls, url: str | None) -> None:
        if url is not None:
            raise ValueError(
                "not used by this channel: its callbacks go to Dialogflow's API (detectIntent)"
            )
        return None


class DialogflowChannel(BotChannel):
    name = "dialogflow"
    settings_model = DialogflowSettings
    settings: DialogflowSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._credentials: Any = None

    # in -------------------------------------------------------------------------------------------
    def verify(self, request: InboundRequest, *, now: float) -> None:
        check_token(
            bearer(request.headers),
            self.settings.secret,
            where="Authorization: Bearer <secret> in the webhook's custom headers",
        )

    def parse(self, request: InboundRequest, *, now: datetime) -> list[Event]:
        body = read_object(
            request.body, self.bounds, what="a Dialogflow CX WebhookRequest", slug=SLUG
        )
        session = require(body, "sessionInfo.session", slug=SLUG)
        turn = body.get("detectIntentResponseId") or hashlib.sha256(request.body).hexdigest()[:32]
        if not isinstance(turn, str):
            raise BadRequest("detectIntentResponseId must be a string", slug=SLUG)
        info = _object(body.get("fulfillmentInfo"))
        tag = str(info.get("tag") or "")
        params = body["sessionInfo"].get("parameters", {})
        if not isinstance(params, dict):
            raise BadRequest("sessionInfo.parameters must be an object", slug=SLUG)
        messages: list[dict[str, Any]] = []
        said = body.get("text") or body.get("transcript")
        if isinstance(said, str) and said:
            messages.append({"id": f"{turn}:customer", "role": "customer", "text": said, "at": now})
        for i, text in enumerate(_bot_texts(body.get("messages"))):
            messages.append({"id": f"{turn}:bot:{i}", "role": "bot", "text": text, "at": now})
        intent = _object(body.get("intentInfo"))
        asked = tag in self.settings.handoff_tags
        bot: dict[str, Any] = {}
        reason = params.get(self.settings.reason_parameter)
        data: dict[str, Any] = {
            "id": turn,
            "type": "handoff.requested" if asked else "conversation.updated",
            "occurred_at": now,
            "conversation": {
                "id": session,
                "channel": "dialogflow-cx",
                "language": body.get("languageCode") or None,
            },
            "customer": {
                "attributes": {
                    k: v for k, v in params.items() if isinstance(v, str | int | float | bool)
                }
            },
            "messages": messages,
            "bot": bot,
        }
        if intent.get("displayName"):
            bot["intent"] = {
                "name": str(intent["displayName"]),
                "confidence": intent.get("confidence"),
            }
        if asked:
            bot["recommend_handoff"] = {
                "reason": str(reason) if reason else f"the agent's fulfillment tag {tag!r}"
            }
        return [build_event(data, self.bounds, what="the WebhookRequest", slug=SLUG)]

    def answer(self, request: InboundRequest, responses: list[EventResponse]) -> ChannelAnswer:
        (response,) = responses
        parameters: dict[str, Any] = {"handoff_owner": response.control.owner}
        body: dict[str, Any] = {"sessionInfo": {"parameters": parameters}}
        asked = (
            json.loads(request.body).get("fulfillmentInfo", {}).get("tag")
            in self.settings.handoff_tags
        )
        handoff_id = (
            response.handoff.id if response.handoff is not None else response.control.handoff_id
        )
        # a handoff tag on a conversation already with a person hands off again to the same handoff
        if handoff_id and (
            response.decision.escalate or (asked and response.control.owner != "bot")
        ):
            parameters["handoff_id"] = handoff_id
            metadata = {
                "handoff_id": handoff_id,
                "team": response.decision.team,
                "priority": response.decision.priority,
            }
            messages: list[dict[str, Any]] = []
            if response.customer_message is not None:
                messages.append({"text": {"text": [response.customer_message.text]}})
            messages.append({"liveAgentHandoff": {"metadata": metadata}})
            body["fulfillmentResponse"] = {"messages": messages, "mergeBehavior": "APPEND"}
        return ChannelAnswer(200, json.dumps(body).encode())

    # out ------------------------------------------------------------------------------------------
    def send(self, callback: Callback, *, delivery_id: str) -> dict[str, Any]:
        if callback.type != "conversation.handed_back":
            return skipped(
                callback.type,
                "Dialogflow CX cannot push to the customer: the chat "
                "front end in front of the agent relays it",
            )
        session = str(callback.fields.get("conversation_id") or "")
        match = SESSION.match(session)
        if match is None:
            raise PermanentDeliveryError(
                f"conversation {session!r} is not a Dialogflow CX session path"
            )
        location = match.group("location")
        base = self.settings.api_url.rstrip("/") or (
            "https://dialogflow.googleapis.com"
            if location == "global"
            else f"https://{location}-dialogflow.googleapis.com"
        )
        fields = callback.fields
        parameters = {
            key: fields.get(key)
            for key in ("handoff_id", "note", "resolution", "resume_hint")
            if fields.get(key) is not None
        }
        body = {
            "queryInput": {
                "event": {"event": self.settings.handback_event},
                "languageCode": self.settings.language_code,
            },
            "queryParams": {"parameters": parameters},
        }
        answer = post_json(
            f"{base}/v3/{session}:detectIntent",
            body,
            headers={"Authorization": f"Bearer {self._token()}"},
            timeout=self.settings.callback_timeout_seconds,
            what="Dialogflow detectIntent",
        )
        return {"status": answer.status_code, "event": self.settings.handback_event}

    def _token(self) -> str:
        """A bearer token for Dialogflow's API: the static one, or from the key file (refreshed
        by google-auth when it expires)."""
        if self.settings.access_token:
            return self.settings.access_token
        if not self.settings.credentials_file:
            raise PermanentDeliveryError(
                f"sources.{self.source}: set credentials_file (or access_token) to call Dialogflow"
            )
        try:
            from google.auth.transport.requests import Request
            from google.oauth2 import service_account
        except ImportError as exc:  # the optional extra is not installed
            raise PermanentDeliveryError(
                f"credentials_file needs the google-auth package: {exc}"
            ) from exc
        from google.auth import exceptions

        try:
            if self._credentials is None:
                self._credentials = service_account.Credentials.from_service_account_file(
                    self.settings.credentials_file,
                    scopes=["https://www.googleapis.com/auth/dialogflow"],
                )
            if not self._credentials.valid:
                self._credentials.refresh(Request())
        except exceptions.TransportError as exc:  # Google's token endpoint unreachable: try later
            raise TransientDeliveryError(f"getting a Google access token failed: {exc}") from exc
        except (
            OSError,
            ValueError,
            exceptions.GoogleAuthError,
        ) as exc:  # no file, bad key, refused
            raise PermanentDeliveryError(
                f"sources.{self.source}.credentials_file: cannot get an access token: {exc}"
            ) from exc
        return str(self._credentials.token)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _bot_texts(messages: Any) -> list[str]:
    """The texts of the ResponseMessages already queued for this turn."""
    out: list[str] = []
    for message in messages if isinstance(messages, list) else []:
        text = message.get("text") if isinstance(message, dict) else None
        parts = text.get("text") if isinstance(text, dict) else None
        if isinstance(parts, list):
            joined = " ".join(p for p in parts if isinstance(p, str)).strip()
            if joined:
                out.append(joined)
    return out
