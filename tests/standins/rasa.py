"""A local Rasa HTTP API (3.x) for the Rasa channel (``channels/rasa.py``).

The tracker calls a hand-off needs: ``GET /conversations/{id}/tracker`` and ``POST
/conversations/{id}/tracker/events``. Requests are validated against Rasa's OpenAPI document
(``rasa/rasa-http-api.3.0.4.yml``, with the two adjustments of ``_adjust``), and, since that document only requires ``event`` in an event, each appended event is
also checked against Rasa's event reference (``rasa/events.rasa-sdk-docs.mdx``): a known event name,
and a ``bot`` event's ``text`` a string. ``?token=`` is checked like ``rasa run --auth-token``.

Like Rasa's tracker store, every appended event is published to the event broker when a
``publish`` callable is given (``{"sender_id", "timestamp", **event}``), so the connector's
consumer sees its own injections come back, as it would in production.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from .base import Request, Response, StandinServer
from .specs import SpecValidator, mark

__all__ = ["RasaStandin"]

SPEC = "rasa/rasa-http-api.3.0.4.yml"
# the event names of Rasa's event reference
EVENTS = {
    "slot",
    "reset_slots",
    "reminder",
    "cancel_reminder",
    "pause",
    "resume",
    "followup",
    "rewind",
    "undo",
    "restart",
    "session_started",
    "user",
    "bot",
    "action",
    "active_loop",
    "action_execution_rejected",
    "user_featurization",
    "entities",
    "loop_interrupted",
}


def _adjust(document: dict[str, Any]) -> None:
    """Two slips of the YAML that openapi-core cannot take: bare integer response codes become
    strings, and ``default: None`` (Python's None written as a string) on the numeric ``until``
    parameter goes, since openapi-core applies a default to a missing parameter and validates it."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"] = {str(k): v for k, v in operation["responses"].items()}
    for parameter in document.get("components", {}).get("parameters", {}).values():
        schema = parameter.get("schema") or {}
        if schema.get("default") == "None" and schema.get("type") != "string":
            del schema["default"]
            mark(parameter, "the published default 'None' is not a number")


class RasaStandin(StandinServer):
    """Rasa on ``127.0.0.1``. State: ``trackers`` (sender id → ``{"paused", "events"}``),
    ``sent`` (utterances forwarded to an output channel: (sender, channel, text))."""

    vendor = "rasa"

    def __init__(
        self,
        *,
        token: str = "rasa-token",
        publish: Callable[[dict[str, Any]], None] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        super().__init__()
        self.token, self.publish = token, publish
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.trackers: dict[str, dict[str, Any]] = {}
        self.sent: list[tuple[str, str, str]] = []

    def tracker(self, sender: str) -> dict[str, Any]:
        return self.trackers.setdefault(sender, {"paused": False, "events": []})

    def routes(self) -> list[tuple[str, str, Any]]:
        c = r"/conversations/(?P<id>[^/]+)"
        return [("GET", f"{c}/tracker", self._get), ("POST", f"{c}/tracker/events", self._append)]

    def validator(self) -> SpecValidator:
        return SpecValidator.cached("rasa", SPEC, _adjust)

    def check_auth(self, request: Request) -> Response | None:
        if request.arg("token") != self.token:
            return self.error(401, "NotAuthenticated", "User is not authenticated.")
        return None

    def error_body(self, status: int, code: str | None = None, message: str | None = None) -> Any:
        # Rasa's error responses: {version, status: "failure", message, reason, details, help, code}
        return {
            "version": "3.0.4",
            "status": "failure",
            "message": message or str(status),
            "reason": code or str(status),
            "details": {},
            "help": None,
            "code": status,
        }

    def _state(self, sender: str) -> dict[str, Any]:
        tracker = self.tracker(sender)
        return {
            "sender_id": sender,
            "slots": {},
            "latest_message": {},
            "paused": tracker["paused"],
            "events": list(tracker["events"]),
            "latest_event_time": None,
            "followup_action": None,
            "latest_input_channel": "rest",
            "active_loop": {},
            "latest_action_name": None,
        }

    def _get(self, request: Request) -> Response:
        return Response(200, self._state(unquote(request.params["id"])))

    def _append(self, request: Request) -> Response:
        sender = unquote(request.params["id"])
        body = request.json
        events = body if isinstance(body, list) else [body]
        for event in events:
            name = event.get("event")
            if name not in EVENTS:
                return self.error(400, "BadRequest", f"unknown event {name!r}")
            if name == "bot" and not isinstance(event.get("text"), str):
                return self.error(400, "BadRequest", "a bot event's text is a string")
            if "metadata" in event and not isinstance(event["metadata"], dict):
                return self.error(400, "BadRequest", "metadata is an object")
        tracker = self.tracker(sender)
        for event in events:
            stamped = {**event, "timestamp": self.clock().timestamp()}
            tracker["events"].append(stamped)
            if event["event"] == "pause":
                tracker["paused"] = True
            elif event["event"] == "resume":
                tracker["paused"] = False
            elif event["event"] == "bot" and request.arg("execute_side_effects") == "true":
                self.sent.append((sender, request.arg("output_channel") or "", event["text"]))
            if self.publish is not None:
                self.publish({"sender_id": sender, **stamped})
        return Response(200, self._state(sender))
