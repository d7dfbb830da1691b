"""Rasa: its event broker in, its HTTP API out.

Rasa has no outbound handoff webhook. Its tracker store publishes every tracker event to an event
broker as JSON (``{"sender_id", "event", "timestamp", …}``); ``consume`` reads Rasa's RabbitMQ queue
(pika, the broker Rasa documents first) and turns each event into ours: ``user`` → a customer turn
(with Rasa's intent), ``bot`` → a bot turn, the handoff action (``action_handoff_metric`` run by Rasa
Pro's ``pattern_human_handoff``, or any configured ``handoff_actions``) or a handoff flow starting →
``handoff.requested``; the policy also runs on every turn. The same JSON may be POSTed to
``/v1/channels/<source>`` with ``Authorization: Bearer <secret>`` (one event or a list), for a Kafka
or SQL broker bridged by other means.

Out, through Rasa's HTTP API (``POST /conversations/{sender}/tracker/events``): the hand-off pauses
the tracker (``{"event": "pause"}``: Rasa then records the customer's messages without answering
them), the handback resumes it, and agent messages and wait updates are ``bot`` events with
``output_channel`` and ``execute_side_effects=true``, which is how Rasa sends an utterance it did not
produce to the customer's channel. Each injected event carries ``metadata.handoff_delivery`` (the
outbox key): a retry first reads the tracker and does not append it twice, and the echo of it that
comes back through the broker is not a bot turn.

``consume`` runs in its own process, ``handoff consume`` (connector/cli_consume.py): one consumer
per queue with a prefetch of one keeps a conversation's events in order, which consumers in every
worker process would not.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field, field_validator

from channels.base import BotChannel, ChannelAnswer, InboundRequest
from channels.common import call_json
from connector.errors import (
    BadRequest,
    HandoffError,
    PermanentDeliveryError,
    ProblemError,
    Unauthorized,
)
from connector.outbox import Callback
from connector.schemas import Event, EventResponse

logger = logging.getLogger(__name__)

DELIVERY_KEY = "handoff_delivery"  # metadata of the events we inject: our echo, and the retry check
PREFIX = "rasa:"


class RasaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str = Field(min_length=16)  # bearer token of the HTTP route
    rasa_url: str  # Rasa's HTTP API, e.g. http://rasa:5005 (rasa run --enable-api)
    rasa_token: str | None = None  # rasa run --auth-token (sent as ?token=)
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    queue: str = Field(default="rasa_events", min_length=1)  # endpoints.yml event_broker.queues
    handoff_actions: list[str] = Field(
        default_factory=lambda: ["action_handoff_metric", "action_human_handoff"]
    )
    handoff_flows: list[str] = Field(default_factory=lambda: ["pattern_human_handoff"])
    output_channel: str = "latest"  # where injected utterances go (Rasa's output_channel)
    callback_url: None = None  # shared key: Rasa is answered through its API
    callback_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("rasa_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not re.match(r"^https?://[^\s/]+", url):
            raise ValueError("must be an http:// or https:// URL")
        return url.rstrip("/")

    @field_validator("amqp_url")
    @classmethod
    def _amqp_url(cls, url: str) -> str:
        if not re.match(r"^amqps?://[^\s/]+", url):
            raise ValueError("must be an amqp:// or amqps:// URL")
        return url


def sender_of(conversation_id: str) -> str:
    if not conversation_id.startswith(PREFIX) or len(conversation_id) == len(PREFIX):
        raise PermanentDeliveryError(f"{conversation_id!r} is not a Rasa conversation id")
    return conversation_id[len(PREFIX) :]


def _at(timestamp: Any, now: datetime) -> datetime:
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
        return datetime.fromtimestamp(timestamp, UTC)
    return now


class RasaChannel(BotChannel):
    name = "rasa"
    settings_model = RasaSettings
    settings: RasaSettings

    # in -------------------------------------------------------------------------------------------
    def verify(self, request: InboundRequest, *, now: float) -> None:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), self.settings.secret.encode()
        ):
            raise Unauthorized(
                "missing or wrong bearer token (Authorization: Bearer <secret>)", slug="bad-token"
            )

    def parse(self, request: InboundRequest, *, now: datetime) -> list[Event]:
        try:
            body = json.loads(request.body)
        except ValueError as exc:
            raise BadRequest(f"the body is not JSON: {exc}", slug="malformed-rasa") from None
        items = body if isinstance(body, list) else [body]
        return [event for item in items for event in self.parse_event(item, now=now)]

    def parse_event(self, item: Any, *, now: datetime) -> list[Event]:
        """Our events for one Rasa broker event (``BadRequest`` naming the field when malformed)."""
        if not isinstance(item, dict) or not isinstance(item.get("event"), str):
            raise BadRequest("a Rasa event is an object with an 'event'", slug="malformed-rasa")
        sender = item.get("sender_id")
        if not isinstance(sender, str) or not sender:
            raise BadRequest(f"{item['event']}: missing 'sender_id'", slug="malformed-rasa")
        kind, stamp = item["event"], item.get("timestamp")
        base = {
            "occurred_at": _at(stamp, now),
            "conversation": {"id": PREFIX + sender, "channel": item.get("input_channel") or "rasa"},
        }
        tail = (
            item.get("message_id")
            or stamp
            or hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()[:24]
        )
        event_id = f"rasa:{sender}:{kind}:{tail}"
        text = item.get("text")
        if kind in ("user", "bot"):
            if (item.get("metadata") or {}).get(DELIVERY_KEY):
                return []  # a message we injected, coming back through the broker
            if not isinstance(text, str) or not text.strip():
                return []  # buttons, images and empty turns carry nothing for the transcript
            message: dict[str, Any] = {
                "id": f"rasa-{tail}",
                "role": "customer" if kind == "user" else "bot",
                "text": text,
                "at": _at(stamp, now),
            }
            bot: dict[str, Any] = {}
            intent = ((item.get("parse_data") or {}).get("intent") or {}) if kind == "user" else {}
            if isinstance(intent.get("name"), str):
                confidence = intent.get("confidence")
                ok = isinstance(confidence, int | float) and 0 <= confidence <= 1
                message.update(intent=intent["name"], confidence=confidence if ok else None)
                bot["intent"] = {"name": intent["name"], "confidence": confidence if ok else None}
            return [
                self._event(
                    {
                        **base,
                        "id": event_id,
                        "type": "conversation.updated",
                        "messages": [message],
                        "bot": bot,
                    }
                )
            ]
        handoff = (kind == "action" and item.get("name") in self.settings.handoff_actions) or (
            kind == "flow_started" and item.get("flow_id") in self.settings.handoff_flows
        )
        if handoff:
            what = item.get("name") or item.get("flow_id")
            return [
                self._event(
                    {
                        **base,
                        "id": event_id,
                        "type": "handoff.requested",
                        "bot": {"recommend_handoff": {"reason": f"Rasa ran {what}"}},
                    }
                )
            ]
        return []  # slots, session starts, other actions: nothing to decide

    @staticmethod
    def _event(document: dict[str, Any]) -> Event:
        try:
            return Event.model_validate(document)
        except ValueError as exc:
            raise BadRequest(
                f"not a valid event: {exc}".splitlines()[0], slug="malformed-rasa"
            ) from None

    def answer(self, request: InboundRequest, responses: list[EventResponse]) -> ChannelAnswer:
        body = {
            "events": len(responses),
            "escalated": any(r.decision.escalate for r in responses),
            "handoff_id": next((r.handoff.id for r in responses if r.handoff), None),
        }
        return ChannelAnswer(200, json.dumps(body).encode())

    # the broker ------------------------------------------------------------------------------------
    def handle(self, body: bytes, ingest: Callable[[list[Event]], object], now: datetime) -> str:
        """Ingest one broker message: ``"ack"`` when done (or nothing to do), ``"reject"`` when it
        can never be ingested (logged with its body), ``"retry"`` when it should come again."""
        try:
            events = self.parse(InboundRequest("AMQP", "", {}, body), now=now)
            ingest(events)
        except ProblemError as exc:
            if exc.status in (409, 429, 503):  # a race, a busy or unwritable store: try again
                logger.warning("rasa source %s: will retry an event: %s", self.source, exc)
                return "retry"
            logger.error(
                "rasa source %s: rejected a broker event (%s): %s",
                self.source,
                exc,
                body[:2000].decode("utf-8", "replace"),
            )
            return "reject"
        except HandoffError as exc:
            logger.warning("rasa source %s: will retry an event: %s", self.source, exc)
            return "retry"
        except Exception:  # a bug or an I/O error of ours must not drop the event
            logger.exception("rasa source %s: will retry an event", self.source)
            return "retry"
        return "ack"

    def consume(
        self,
        ingest: Callable[[list[Event]], object],
        stop: threading.Event,
        *,
        now: Callable[[], datetime],
        retry_seconds: float = 2.0,
    ) -> None:
        """Consume the queue until ``stop`` is set, reconnecting after a broker outage. Each message
        is acknowledged only once ingested, so nothing is lost when this process dies."""
        import pika  # the rasa extra: imported only where a Rasa source consumes
        import pika.exceptions

        parameters = pika.URLParameters(self.settings.amqp_url)
        while not stop.is_set():
            try:
                connection = pika.BlockingConnection(parameters)
            except pika.exceptions.AMQPError as exc:
                logger.warning("rasa source %s: cannot reach the broker: %r", self.source, exc)
                stop.wait(retry_seconds)
                continue
            try:
                channel = connection.channel()
                channel.queue_declare(
                    queue=self.settings.queue, durable=True
                )  # as Rasa declares it
                channel.basic_qos(prefetch_count=1)  # one at a time: a conversation's order holds
                for method, _properties, body in channel.consume(
                    self.settings.queue, inactivity_timeout=0.2
                ):
                    if stop.is_set():
                        break
                    if method is None:
                        continue
                    outcome = self.handle(body, ingest, now())
                    if outcome == "ack":
                        channel.basic_ack(method.delivery_tag)
                    elif outcome == "reject":
                        channel.basic_reject(method.delivery_tag, requeue=False)
                    else:
                        channel.basic_nack(method.delivery_tag, requeue=True)
                        stop.wait(retry_seconds)
                channel.cancel()
            except pika.exceptions.AMQPError as exc:
                logger.warning("rasa source %s: broker connection lost: %r", self.source, exc)
                stop.wait(retry_seconds)
            finally:
                if connection.is_open:
                    connection.close()

    # out ------------------------------------------------------------------------------------------
    def send(self, callback: Callback, *, delivery_id: str) -> dict[str, Any]:
        fields = callback.fields
        conversation_id = str(fields.get("conversation_id") or callback.conversation_id or "")
        if callback.type == "control.changed":
            if fields.get("owner") != "pending_agent":
                return {"skipped": f"control moved to {fields.get('owner')}: nothing to tell Rasa"}
            self._append(sender_of(conversation_id), [{"event": "pause"}])
            return {"tracker": "paused"}
        if callback.type == "conversation.handed_back":
            self._append(sender_of(conversation_id), [{"event": "resume"}])
            return {"tracker": "resumed"}
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
            sender = sender_of(conversation_id)
            if self._injected(sender, delivery_id):
                return {"bot": "already appended"}
            author = fields.get("author") if isinstance(fields.get("author"), dict) else {}
            event = {
                "event": "bot",
                "text": text,
                "metadata": {
                    DELIVERY_KEY: delivery_id,
                    "handoff_id": fields.get("handoff_id"),
                    "author": (author or {}).get("name"),
                    "kind": callback.type,
                },
            }
            self._append(
                sender,
                [event],
                query={
                    "output_channel": self.settings.output_channel,
                    "execute_side_effects": "true",
                },
            )
            return {"bot": "appended"}
        return {"skipped": f"Rasa sources do not take {callback.type!r} callbacks"}

    def _injected(self, sender: str, delivery_id: str) -> bool:
        tracker = self._call("GET", sender, "tracker", query={"include_events": "ALL"}) or {}
        return any(
            (e.get("metadata") or {}).get(DELIVERY_KEY) == delivery_id
            for e in tracker.get("events") or []
            if isinstance(e, dict)
        )

    def _append(
        self, sender: str, events: list[dict[str, Any]], *, query: dict[str, str] | None = None
    ) -> None:
        self._call(
            "POST",
            sender,
            "tracker/events",
            events,
            query={"include_events": "NONE", **(query or {})},
        )

    def _call(
        self,
        method: str,
        sender: str,
        action: str,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
    ) -> Any:
        url = f"{self.settings.rasa_url}/conversations/{requests.utils.quote(sender, safe='')}/{action}"
        params = dict(query or {})
        if self.settings.rasa_token:
            params["token"] = self.settings.rasa_token
        return call_json(
            method,
            url,
            json=body,
            params=params,
            headers={"User-Agent": "handoff-connector"},
            timeout=self.settings.callback_timeout_seconds,
            what=f"Rasa {method} {action}",
        )
