"""A local Chatwoot Application API for the agent-bot channel (``channels/chatwoot.py``).

The conversation calls an agent bot makes: messages (list, create, private notes), labels (list,
replace), assignments (team or agent) and ``toggle_status``. Requests are validated against
Chatwoot's swagger (``chatwoot/chatwoot-swagger.8eaea7c7.json``, OpenAPI 3.0.4), authentication is
the ``api_access_token`` header, and, as the spec documents, labels take a *user* token only
(an agent-bot token is refused with 401). Behaviour follows the reference source at the same
commit: the label call replaces the set, a message answers with ``message_type`` as an integer in
the API (0 incoming, 1 outgoing, 2 activity) and ``created_at`` in unix seconds.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

from .base import Request, Response, StandinServer
from .specs import SpecValidator

__all__ = ["ChatwootStandin"]

SPEC = "chatwoot/chatwoot-swagger.8eaea7c7.json"
MESSAGE_TYPES = {"incoming": 0, "outgoing": 1, "activity": 2, "template": 3}
STATUSES = ("open", "resolved", "pending", "snoozed")


class ChatwootStandin(StandinServer):
    """Chatwoot on ``127.0.0.1``. ``bot_token`` is the agent bot's access token, ``user_token`` an
    agent's; ``account_id`` the only account. State: ``conversations`` (display id → dict with
    ``status``, ``labels``, ``team_id``, ``messages``); ``add_conversation()`` seeds one."""

    vendor = "chatwoot"

    def __init__(
        self,
        *,
        bot_token: str = "bot-token",
        user_token: str = "user-token",
        account_id: int = 1,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        super().__init__()
        self.bot_token, self.user_token, self.account_id = bot_token, user_token, account_id
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.conversations: dict[int, dict[str, Any]] = {}
        self.contacts: dict[int, dict[str, Any]] = {}
        self.teams: list[dict[str, Any]] = [
            {"id": 11, "name": "general"},
            {"id": 12, "name": "billing"},
        ]
        self.inboxes: list[dict[str, Any]] = [
            {"id": 3, "name": "Handoffs", "channel_type": "Channel::Api"}
        ]
        self._ids = itertools.count(1000)
        self._displays = itertools.count(900)

    def add_conversation(self, display_id: int, *, status: str = "pending") -> dict[str, Any]:
        conversation = {
            "status": status,
            "labels": [],
            "team_id": None,
            "assignee_id": None,
            "messages": [],
            "custom_attributes": {},
            "priority": None,
            "contact_id": None,
        }
        self.conversations[display_id] = conversation
        return conversation

    def notes(self, display_id: int) -> list[str]:
        return [m["content"] for m in self.conversations[display_id]["messages"] if m["private"]]

    def public(self, display_id: int) -> list[str]:
        return [
            m["content"] for m in self.conversations[display_id]["messages"] if not m["private"]
        ]

    # -- StandinServer ------------------------------------------------------------------------
    def routes(self) -> list[tuple[str, str, Any]]:
        c = r"/api/v1/accounts/(?P<account>\d+)/conversations/(?P<id>\d+)"
        return [
            ("GET", f"{c}/messages", self._list_messages),
            ("POST", f"{c}/messages", self._create_message),
            ("GET", f"{c}/labels", self._labels),
            ("POST", f"{c}/labels", self._set_labels),
            ("POST", f"{c}/assignments", self._assign),
            ("POST", f"{c}/toggle_status", self._toggle),
            ("GET", c, self._get_conversation),
            ("POST", f"{c}/custom_attributes", self._custom_attributes),
            ("POST", f"{c}/toggle_priority", self._priority),
            ("POST", r"/api/v1/accounts/(?P<account>\d+)/conversations", self._create_conversation),
            ("GET", r"/api/v1/accounts/(?P<account>\d+)/contacts/search", self._search_contacts),
            ("POST", r"/api/v1/accounts/(?P<account>\d+)/contacts", self._create_contact),
            (
                "GET",
                r"/api/v1/accounts/(?P<account>\d+)/contacts/(?P<contact>\d+)/conversations",
                self._contact_conversations,
            ),
            (
                "GET",
                r"/api/v1/accounts/(?P<account>\d+)/teams",
                lambda r: Response(200, self.teams),
            ),
            (
                "GET",
                r"/api/v1/accounts/(?P<account>\d+)/inboxes",
                lambda r: Response(200, {"payload": self.inboxes}),
            ),
        ]

    def validator(self) -> SpecValidator:
        return SpecValidator.cached("chatwoot", SPEC)

    def check_auth(self, request: Request) -> Response | None:
        token = request.header("api_access_token")
        if token not in (self.bot_token, self.user_token):
            return self.error(401, message="You need to sign in or sign up before continuing.")
        # the spec lists only userApiKey for the label calls
        if "/labels" in request.path and token != self.user_token:
            return self.error(401, message="labels need a user access token")
        return None

    def error_body(self, status: int, code: str | None = None, message: str | None = None) -> Any:
        # Chatwoot's bad_request_error: {"description", "errors": [{field, message, code}]}
        text = message or {
            401: "Unauthorized",
            404: "Resource could not be found",
            429: "Too many requests",
        }.get(status, "Error")
        return {
            "description": text,
            "errors": [{"field": "", "message": text, "code": code or str(status)}],
        }

    # -- handlers -----------------------------------------------------------------------------
    def _conversation(self, request: Request) -> dict[str, Any] | None:
        if int(request.params["account"]) != self.account_id:
            return None
        return self.conversations.get(int(request.params["id"]))

    def _list_messages(self, request: Request) -> Response:
        conversation = self._conversation(request)
        if conversation is None:
            return self.error(404)
        return Response(
            200, {"meta": {"labels": conversation["labels"]}, "payload": conversation["messages"]}
        )

    def _create_message(self, request: Request) -> Response:
        conversation = self._conversation(request)
        if conversation is None:
            return self.error(404)
        body = request.json or {}
        sender = {
            "type": "agent_bot" if request.header("api_access_token") == self.bot_token else "user"
        }
        message = {
            "id": next(self._ids),
            "content": body["content"],
            "message_type": MESSAGE_TYPES[body.get("message_type", "outgoing")],
            "private": bool(body.get("private", False)),
            "created_at": int(self.clock().timestamp()),
            "sender": sender,
        }
        conversation["messages"].append(message)
        return Response(200, message)

    def _labels(self, request: Request) -> Response:
        conversation = self._conversation(request)
        if conversation is None:
            return self.error(404)
        return Response(200, {"payload": list(conversation["labels"])})

    def _set_labels(self, request: Request) -> Response:
        conversation = self._conversation(request)
        if conversation is None:
            return self.error(404)
        conversation["labels"] = list((request.json or {})["labels"])  # replaces the set
        return Response(200, {"payload": list(conversation["labels"])})

    def _assign(self, request: Request) -> Response:
        conversation = self._conversation(request)
        if conversation is None:
            return self.error(404)
        body = request.json or {}
        if body.get("assignee_id") is not None:  # the assignee wins over the team
            conversation["assignee_id"] = body["assignee_id"]
        elif body.get("team_id") is not None:
            conversation["team_id"] = body["team_id"]
        return Response(200, {"id": body.get("team_id"), "name": "team"})

    def _get_conversation(self, request: Request) -> Response:
        conversation = self._conversation(request)
        if conversation is None:
            return self.error(404)
        return Response(200, self._view(int(request.params["id"]), conversation))

    def _view(self, display_id: int, conversation: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": display_id,
            "status": conversation["status"],
            "labels": conversation["labels"],
            "custom_attributes": conversation["custom_attributes"],
            "priority": conversation["priority"],
            "team_id": conversation["team_id"],
            "inbox_id": 3,
        }

    def _custom_attributes(self, request: Request) -> Response:
        conversation = self._conversation(request)
        if conversation is None:
            return self.error(404)
        conversation["custom_attributes"] = dict(
            (request.json or {})["custom_attributes"]
        )  # replaces
        return Response(200, {"custom_attributes": conversation["custom_attributes"]})

    def _priority(self, request: Request) -> Response:
        conversation = self._conversation(request)
        if conversation is None:
            return self.error(404)
        conversation["priority"] = (request.json or {})["priority"]
        return Response(200, None)

    def _create_conversation(self, request: Request) -> Response:
        body = request.json or {}
        if body.get("contact_id") not in self.contacts:
            return self.error(404, message="contact not found")
        display_id = next(self._displays)
        conversation = self.add_conversation(display_id, status=body.get("status", "open"))
        conversation.update(
            team_id=body.get("team_id"),
            contact_id=body["contact_id"],
            custom_attributes=dict(body.get("custom_attributes") or {}),
        )
        return Response(200, self._view(display_id, conversation))

    def _search_contacts(self, request: Request) -> Response:
        q = request.arg("q") or ""
        found = [
            c
            for c in self.contacts.values()
            if q and q in (c.get("identifier") or "", c.get("name") or "")
        ]
        return Response(200, {"meta": {"count": len(found)}, "payload": found})

    def _create_contact(self, request: Request) -> Response:
        body = request.json or {}
        if any(c.get("identifier") == body.get("identifier") for c in self.contacts.values()):
            return self.error(422, message="Identifier has already been taken")
        contact = {
            "id": next(self._ids),
            "name": body.get("name"),
            "identifier": body.get("identifier"),
            "email": body.get("email"),
        }
        self.contacts[contact["id"]] = contact
        # Chatwoot answers {payload: {contact, contact_inbox}}
        return Response(
            200,
            {
                "payload": {
                    "contact": contact,
                    "contact_inbox": {"inbox_id": body["inbox_id"], "source_id": "x"},
                }
            },
        )

    def _contact_conversations(self, request: Request) -> Response:
        contact_id = int(request.params["contact"])
        return Response(
            200,
            {
                "payload": [
                    self._view(d, c)
                    for d, c in self.conversations.items()
                    if c.get("contact_id") == contact_id
                ]
            },
        )

    def _toggle(self, request: Request) -> Response:
        conversation = self._conversation(request)
        if conversation is None:
            return self.error(404)
        status = (request.json or {}).get("status")
        if status not in STATUSES:
            return self.error(422, message=f"unknown status {status!r}")
        conversation["status"] = status
        return Response(
            200,
            {
                "meta": {},
                "payload": {
                    "success": True,
                    "current_status": status,
                    "conversation_id": int(request.params["id"]),
                },
            },
        )
