"""A local Intercom REST API (version 2.14) for python-intercom 5.x.

Conversations (retrieve, note replies, assignment parts, custom attributes), tickets, admins,
teams, ticket types and ``/me``. Requests are validated against Intercom's 2.14 document, and
response bodies start from that document's own examples (``recorded/intercom/``).
python-intercom reaches it with ``Intercom(token=..., base_url=standin.base_url)``.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

from .base import Request, Response, StandinServer, ValidationProblem
from .specs import SpecValidator, spec_file

__all__ = ["IntercomStandin"]

SPEC = "intercom/api.intercom.io.2.14.yaml"
_ERRORS = {
    400: ("parameter_invalid", "Invalid parameter"),
    401: ("unauthorized", "Access Token Invalid"),
    403: ("api_plan_restricted", "Active subscription needed."),
    404: ("not_found", "Resource Not Found"),
    409: ("conflict", "A conflicting change was made"),
    422: ("parameter_invalid", "Unprocessable entity"),
    429: ("rate_limit_exceeded", "Exceeded rate limit of 10000 in 60_seconds"),
    500: ("server_error", "Server Error"),
    503: ("service_unavailable", "Sorry, the API service is temporarily unavailable"),
}
DEFAULT_CONVERSATION_ATTRIBUTES = (
    "handoff_id",
    "handoff_summary",
    "handoff_widget_url",
    "handoff_sentiment",
    "handoff_intent",
)


def _example(operation: str, status: str = "200") -> Any:
    with spec_file(f"recorded/intercom/{operation}.spec-examples.json").open(
        encoding="utf-8"
    ) as fh:
        examples = json.load(fh)["responses"][status]["examples"]
    return copy.deepcopy(next(iter(examples.values())))


class IntercomStandin(StandinServer):
    """Intercom on ``127.0.0.1`` (plain HTTP: python-intercom takes any ``base_url``).

    ``token`` is the expected ``Authorization: Bearer`` access token. ``admins``/``teams`` seed
    the workspace (dicts with ``id`` and ``name``); ``conversation_attributes`` are the defined
    conversation data attributes (others are refused, as undefined attributes are).
    State: ``conversations`` (id → conversation), ``tickets`` (id → ticket), ``contacts`` (those
    conversations and tickets name), ``add_conversation()``, ``notes(id)``, ``assignments(id)``.
    A reply with ``type: user`` is authored by the contact it names.
    """

    vendor = "intercom"

    def __init__(
        self,
        *,
        token: str = "intercom-test-token",
        admins: list[dict[str, Any]] | None = None,
        teams: list[dict[str, Any]] | None = None,
        conversation_attributes: tuple[str, ...] | list[str] = DEFAULT_CONVERSATION_ATTRIBUTES,
        tls: bool = False,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        super().__init__(tls=tls)
        self.token = token
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.conversation_attributes = set(conversation_attributes)
        admin = _example("listAdmins")["admins"][0]
        self.admins = [
            {**admin, **a}
            for a in admins
            or [{"id": "991267466", "name": "Handoff Bot", "email": "bot@example.com"}]
        ]
        self.teams = [
            {"type": "team", "admin_ids": [], "admin_priority_level": None, **t}
            for t in teams
            or [{"id": "5017691", "name": "Support"}, {"id": "5017692", "name": "Billing"}]
        ]
        self.ticket_types = _example("listTicketTypes")["data"]
        self.conversations: dict[str, dict[str, Any]] = {}
        self.tickets: dict[str, dict[str, Any]] = {}
        self.contacts: list[dict[str, Any]] = []  # {"id", "email", "external_id"}
        self._ids = itertools.count(1000)
        self._conversation_template = _example("retrieveConversation")
        self._ticket_template = _example("createTicket")

    def routes(self) -> list[tuple[str, str, Any]]:
        c = r"/conversations/(?P<id>\d+)"
        return [
            ("GET", "/me", self._me),
            (
                "GET",
                "/admins",
                lambda r: Response(200, {"type": "admin.list", "admins": self.admins}),
            ),
            ("GET", "/teams", lambda r: Response(200, {"type": "team.list", "teams": self.teams})),
            (
                "GET",
                "/ticket_types",
                lambda r: Response(200, {"type": "list", "data": self.ticket_types}),
            ),
            ("GET", c, self._conversation),
            ("PUT", c, self._update),
            ("POST", c + "/reply", self._reply),
            ("POST", c + "/parts", self._parts),
            ("POST", "/tickets", self._create_ticket),
            ("GET", r"/contacts/find_by_external_id/(?P<external_id>[^/]+)", self._find_contact),
            ("POST", "/contacts", self._create_contact),
            ("GET", r"/tickets/(?P<id>\d+)", self._ticket),
        ]

    def validator(self) -> SpecValidator:
        return SpecValidator.cached("intercom", SPEC)

    # -- vendor behaviour ---------------------------------------------------------------------
    def check_auth(self, request: Request) -> Response | None:
        if request.header("Authorization") != f"Bearer {self.token}":
            return self.error(401)
        return None

    def error_body(self, status: int, code: str | None = None, message: str | None = None) -> Any:
        default_code, default_message = _ERRORS.get(status, ("server_error", "Server Error"))
        error = {"code": code or default_code, "message": message or default_message}
        return {"type": "error.list", "request_id": str(uuid.uuid4()), "errors": [error]}

    def error_headers(self, status: int) -> dict[str, str]:
        if status != 429:
            return {}
        reset = int(self.clock().timestamp()) + 10
        return {
            "X-RateLimit-Limit": "10000",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset),
        }

    def invalid_request(self, request: Request, errors: list[str]) -> Response:
        return self.error(400, "parameter_invalid", "; ".join(errors))

    # -- state --------------------------------------------------------------------------------
    def add_conversation(
        self,
        *,
        contact_id: str = "6762f1261bb69f9f2193bba7",
        body: str = "<p>I need a human</p>",
        custom_attributes: dict[str, Any] | None = None,
    ) -> str:
        """Seed an open, unassigned conversation started by a contact; returns its id."""
        conversation = copy.deepcopy(self._conversation_template)
        conversation_id, now = str(next(self._ids)), self._now()
        conversation.update(
            id=conversation_id,
            created_at=now,
            updated_at=now,
            open=True,
            state="open",
            admin_assignee_id=None,
            team_assignee_id=None,
            custom_attributes=dict(custom_attributes or {}),
        )
        conversation["source"].update(
            body=body, delivered_as="customer_initiated", author={"type": "user", "id": contact_id}
        )
        conversation["contacts"]["contacts"] = [{"type": "contact", "id": contact_id}]
        if self.contact({"id": contact_id}) is None:
            self.contacts.append({"id": contact_id, "email": None, "external_id": None})
        conversation["conversation_parts"] = {
            "type": "conversation_part.list",
            "conversation_parts": [],
            "total_count": 0,
        }
        self.conversations[conversation_id] = conversation
        return conversation_id

    def parts(self, conversation_id: str) -> list[dict[str, Any]]:
        """Every part added to a conversation, oldest first."""
        return self.conversations[conversation_id]["conversation_parts"]["conversation_parts"]

    def notes(self, conversation_id: str) -> list[dict[str, Any]]:
        """The internal notes of a conversation."""
        return [p for p in self.parts(conversation_id) if p["part_type"] == "note"]

    def assignments(self, conversation_id: str) -> list[dict[str, Any]]:
        """The assignment parts of a conversation."""
        return [p for p in self.parts(conversation_id) if p["part_type"] == "assignment"]

    def contact(self, ref: dict[str, Any], *, create: bool = False) -> dict[str, Any] | None:
        """The contact ``ref`` (``id``, ``external_id`` or ``email``) names; with ``create``, a
        new one for an e-mail nobody has yet (as ticket creation does: the spec promises that
        for ``email`` only, so an unknown ``external_id`` or ``id`` names nobody)."""
        for key in ("id", "external_id", "email"):
            if ref.get(key):
                found = next((c for c in self.contacts if c[key] == ref[key]), None)
                if found is not None or not create or key != "email":
                    return found
                contact = {"id": uuid.uuid4().hex[:24], "email": None, "external_id": None}
                contact[key] = ref[key]
                self.contacts.append(contact)
                return contact
        return None

    def author(self, data: dict[str, Any]) -> dict[str, Any]:
        """The author of a reply: the contact for ``type: user``, else the admin (or our first)."""
        if data.get("type") == "user":
            contact = self.contact({"id": data.get("intercom_user_id")}) or {}
            return {
                "type": "user",
                "id": contact.get("id"),
                "name": None,
                "email": contact.get("email"),
            }
        admin = self._admin(data.get("admin_id")) or self.admins[0]
        return {"type": "admin", "id": admin["id"], "name": admin["name"], "email": admin["email"]}

    def _now(self) -> int:
        return int(self.clock().timestamp())

    def _admin(self, admin_id: Any) -> dict[str, Any] | None:
        return next((a for a in self.admins if a["id"] == str(admin_id)), None)

    def _add_part(self, conversation: dict[str, Any], part_type: str, data: dict[str, Any]) -> None:
        part = {
            "type": "conversation_part",
            "id": str(next(self._ids)),
            "part_type": part_type,
            "body": data.get("body"),
            "created_at": data.get("created_at") or self._now(),  # a reply may give its own time
            "updated_at": self._now(),
            "notified_at": self._now(),
            "assigned_to": None,
            "attachments": [],
            "author": self.author(data),
            "external_id": None,
            "redacted": False,
        }
        if part_type == "assignment":
            part["assigned_to"] = {"type": data["type"], "id": str(data["assignee_id"])}
        conversation["conversation_parts"]["conversation_parts"].append(part)
        conversation["conversation_parts"]["total_count"] += 1
        conversation["updated_at"] = self._now()

    # -- handlers -----------------------------------------------------------------------------
    def _me(self, request: Request) -> Response:
        me = _example("listAdmins")["admins"][0] | self.admins[0]
        me["app"] = {
            "type": "app",
            "id_code": "standin",
            "name": "Stand-in",
            "region": "US",
            "created_at": 1734537243,
            "secure": False,
            "identity_verification": False,
            "timezone": "Etc/UTC",
        }
        return Response(200, me)

    def _find(self, request: Request) -> dict[str, Any] | None:
        return self.conversations.get(request.params["id"])

    def _conversation(self, request: Request) -> Response:
        conversation = self._find(request)
        return Response(200, conversation) if conversation else self.error(404)

    def _update(self, request: Request) -> Response:
        conversation = self._find(request)
        if conversation is None:
            return self.error(404)
        attributes = request.json.get("custom_attributes") or {}
        unknown = sorted(set(attributes) - self.conversation_attributes)
        if unknown:
            message = f"Custom attribute(s) {', '.join(unknown)} not defined for conversations"
            self.validation_errors.append(ValidationProblem("PUT", request.path, [message]))
            return self.error(400, "parameter_invalid", message)
        conversation["custom_attributes"].update(attributes)
        for key in ("title", "read"):
            if key in request.json:
                conversation[key] = request.json[key]
        conversation["updated_at"] = self._now()
        return Response(200, conversation)

    def _reply(self, request: Request) -> Response:
        conversation = self._find(request)
        if conversation is None:
            return self.error(404)
        data = request.json
        if data.get("type") == "admin" and self._admin(data.get("admin_id")) is None:
            return self.error(404, "admin_not_found", "Admin not found")
        if (
            data.get("type") == "user"
            and self.contact({"id": data.get("intercom_user_id")}) is None
        ):
            return self.error(404, "not_found", "User Not Found")
        self._add_part(conversation, data.get("message_type", "comment"), data)
        return Response(200, conversation)

    def _parts(self, request: Request) -> Response:
        conversation = self._find(request)
        if conversation is None:
            return self.error(404)
        data = request.json
        if self._admin(data.get("admin_id")) is None:
            return self.error(404, "admin_not_found", "Admin not found")
        kind = data["message_type"]
        if kind == "assignment":
            pool = self.teams if data["type"] == "team" else self.admins
            target = str(data["assignee_id"])
            if target != "0" and all(x["id"] != target for x in pool):
                return self.error(404, f"{data['type']}_not_found", f"{data['type']} not found")
            key = "team_assignee_id" if data["type"] == "team" else "admin_assignee_id"
            conversation[key] = None if target == "0" else int(target)
        elif kind in ("close", "open", "snoozed"):
            conversation.update(state=kind, open=kind != "close")
        self._add_part(conversation, {"snoozed": "snoozed", "close": "close"}.get(kind, kind), data)
        return Response(200, conversation)

    def _contact_body(self, contact: dict[str, Any]) -> dict[str, Any]:
        return {"type": "contact", "role": "user", "name": None, "custom_attributes": {}, **contact}

    def _find_contact(self, request: Request) -> Response:
        external_id = urllib.parse.unquote(request.params["external_id"])
        contact = self.contact({"external_id": external_id})
        return Response(200, self._contact_body(contact)) if contact else self.error(404)

    def _create_contact(self, request: Request) -> Response:
        data = request.json
        for key in ("external_id", "email"):
            if data.get(key) and self.contact({key: data[key]}) is not None:
                message = f"A contact matching those details already exists ({key})"
                return self.error(409, "conflict", message)
        contact = {
            "id": uuid.uuid4().hex[:24],
            "email": data.get("email"),
            "external_id": data.get("external_id"),
        }
        self.contacts.append(contact)
        return Response(200, self._contact_body({**contact, "name": data.get("name")}))

    def _create_ticket(self, request: Request) -> Response:
        data = request.json
        ticket_type = next(
            (t for t in self.ticket_types if t["id"] == str(data["ticket_type_id"])), None
        )
        if ticket_type is None:
            return self.error(404, "ticket_type_not_found", "Ticket type not found")
        attributes = data.get("ticket_attributes") or {}
        defined = {a["name"]: a for a in ticket_type["ticket_type_attributes"]["data"]}
        unknown = sorted(set(attributes) - set(defined))
        missing = sorted(
            n for n, a in defined.items() if a.get("required_to_create") and n not in attributes
        )
        if unknown or missing:
            message = f"unknown ticket attributes {unknown}, missing required {missing}"
            self.validation_errors.append(ValidationProblem("POST", request.path, [message]))
            return self.error(400, "parameter_invalid", message)
        contacts = [self.contact(c, create=True) for c in data["contacts"]]
        if None in contacts:
            return self.error(404, "not_found", "Contact Not Found")
        ticket = copy.deepcopy(self._ticket_template)
        ticket_id = str(next(self._ids))
        ticket.update(
            id=ticket_id,
            ticket_id=str(len(self.tickets) + 1),
            ticket_attributes=attributes,
            ticket_type=ticket_type,
            created_at=self._now(),
            updated_at=self._now(),
        )
        ticket["contacts"] = {
            "type": "contact.list",
            "contacts": [
                {"type": "contact", "id": c["id"], "external_id": c["external_id"]}
                for c in contacts
                if c is not None
            ],
        }
        self.tickets[ticket_id] = ticket
        return Response(200, ticket)

    def _ticket(self, request: Request) -> Response:
        ticket = self.tickets.get(request.params["id"])
        return Response(200, ticket) if ticket else self.error(404)
