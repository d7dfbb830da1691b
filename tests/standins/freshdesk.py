"""A local Freshdesk API v2: tickets with tags and custom fields, notes and conversations, groups,
ticket fields, the API key's agent, and Freshdesk's rate-limit headers.

Freshworks publishes no OpenAPI document for Freshdesk (see ``PROVENANCE.md``). Requests are
validated against the Ballerina team's thin document, with what it lacks added by hand and marked
``x-added-by-hand``, written from Freshdesk's API reference (https://developers.freshdesk.com/api/):
the full create body (requester, priority 1-4, status 2-5, source, group, type, tags, custom
fields; no other key), ticket update, notes, conversations, groups, ticket fields, agents/me.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

from .base import Request, Response, StandinServer
from .specs import SpecValidator, mark

__all__ = ["FreshdeskStandin"]

SPEC = "freshdesk/freshdesk-v2.ballerina.openapi.yaml"
REFERENCE = "https://developers.freshdesk.com/api/"
_ERRORS = {
    400: "Validation failed", 403: "You are not authorized to perform this action.",
    404: "Resource not found", 409: "Conflict", 422: "Unprocessable entity",
    429: "You have exceeded the limit of requests per minute", 500: "Internal error",
    503: "Service unavailable",
}  # fmt: skip

_TICKET_BODY = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "subject": {"type": "string", "maxLength": 255}, "description": {"type": "string"},
        "email": {"type": "string", "format": "email"}, "name": {"type": "string", "maxLength": 255},
        "requester_id": {"type": "integer"}, "phone": {"type": "string"},
        "priority": {"type": "integer", "enum": [1, 2, 3, 4]},
        "status": {"type": "integer", "enum": [2, 3, 4, 5]},
        "source": {"type": "integer", "enum": [1, 2, 3, 5, 6, 7, 9, 10, 11]},
        "group_id": {"type": "integer"}, "responder_id": {"type": "integer"},
        "type": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string", "maxLength": 32}},
        "custom_fields": {"type": "object", "additionalProperties": {
            "oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}], "nullable": True}},
        "cc_emails": {"type": "array", "items": {"type": "string"}},
    },
}  # fmt: skip


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _adjust(document: dict[str, Any]) -> None:
    document["info"]["version"] = str(document["info"]["version"])  # the file has a bare 2.0
    note = f"written from Freshdesk's API reference, {REFERENCE}"
    ok = {"200": {"description": "ok"}}
    create = dict(_TICKET_BODY, required=["subject", "description", "priority", "status"])
    document["components"]["schemas"]["TicketPayload"] = mark(
        create, "the Ballerina schema lists six fields; " + note
    )
    update = {k: v for k, v in _TICKET_BODY.items()}
    paths = document["paths"]
    paths["/api/v2/tickets/{id}"]["put"] = mark({
        "parameters": [{"in": "path", "name": "id", "required": True, "schema": {"type": "integer"}}],
        "requestBody": _json_body(update), "responses": ok}, "update a ticket; " + note)  # fmt: skip
    note_body = {"type": "object", "additionalProperties": False, "required": ["body"],
                 "properties": {"body": {"type": "string", "minLength": 1}, "private": {"type": "boolean"},
                                "incoming": {"type": "boolean"}, "user_id": {"type": "integer"},
                                "notify_emails": {"type": "array", "items": {"type": "string"}}}}  # fmt: skip
    by_id = [{"in": "path", "name": "id", "required": True, "schema": {"type": "integer"}}]
    paging = [{"in": "query", "name": n, "schema": {"type": "integer", "minimum": 1, "maximum": 100 if n == "per_page" else 1000}}
              for n in ("page", "per_page")]  # fmt: skip
    paths["/api/v2/tickets/{id}/notes"] = {"post": mark({"parameters": by_id, "requestBody": _json_body(note_body),
                                                         "responses": ok}, "create a note; " + note)}  # fmt: skip
    paths["/api/v2/tickets/{id}/conversations"] = {"get": mark({"parameters": by_id + paging, "responses": ok},
                                                               "list conversations; " + note)}  # fmt: skip
    paths["/api/v2/tickets"]["get"]["parameters"] = [
        {"in": "query", "name": "email", "schema": {"type": "string"}},
        {"in": "query", "name": "updated_since", "schema": {"type": "string", "format": "date-time"}},
        *paging]  # fmt: skip
    mark(paths["/api/v2/tickets"]["get"], "filters of List All Tickets; " + note)
    for path in ("/api/v2/groups", "/api/v2/ticket_fields", "/api/v2/agents/me"):
        paths[path] = {"get": mark({"parameters": paging if path == "/api/v2/groups" else [],
                                    "responses": ok}, note)}  # fmt: skip


class FreshdeskStandin(StandinServer):
    """Freshdesk on ``127.0.0.1`` (HTTPS).

    ``api_key`` is the expected key (basic auth ``<key>:X``). ``groups`` seeds the groups (id →
    name), ``ticket_fields`` the ticket fields. State: ``tickets`` (id → ticket), ``conversations``
    (id → notes). ``rate_remaining``: when set, each request counts it down and it is sent as
    ``X-RateLimit-Remaining``.
    """

    vendor = "freshdesk"

    def __init__(self, *, api_key: str = "fd-test-api-key", groups: dict[int, str] | None = None,
                 ticket_fields: list[dict[str, Any]] | None = None, tls: bool = True,
                 clock: Callable[[], dt.datetime] | None = None) -> None:  # fmt: skip
        super().__init__(tls=tls)
        self.api_key = api_key
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.agent = {
            "id": 43021,
            "contact": {"name": "Handoff Bot", "email": "handoff-bot@example.com"},
        }
        self.groups = groups or {48000010: "Support", 48000011: "Billing"}
        self.ticket_fields = ticket_fields or [
            {"id": 1, "name": "ticket_type", "label": "Type", "type": "default_ticket_type",
             "choices": ["Question", "Incident", "Problem"]},
            {"id": 2, "name": "cf_handoff_id", "label": "Handoff ID", "type": "custom_text"},
            {"id": 3, "name": "cf_handoff_intent", "label": "Handoff intent", "type": "custom_text"},
        ]  # fmt: skip
        self.tickets: dict[int, dict[str, Any]] = {}
        self.conversations: dict[int, list[dict[str, Any]]] = {}
        self.rate_remaining: int | None = None
        self._next_id, self._next_note = 1001, 43000000001

    def routes(self) -> list[tuple[str, str, Any]]:
        t = r"/api/v2/tickets/(?P<id>\d+)"
        return [("POST", "/api/v2/tickets", self._create), ("GET", "/api/v2/tickets", self._list),
                ("GET", t, self._show), ("PUT", t, self._update), ("POST", t + "/notes", self._add_note),
                ("GET", t + "/conversations", self._conversations),
                ("GET", "/api/v2/groups", lambda r: Response(200, [{"id": i, "name": n} for i, n in self.groups.items()])),
                ("GET", "/api/v2/ticket_fields", lambda r: Response(200, copy.deepcopy(self.ticket_fields))),
                ("GET", "/api/v2/agents/me", lambda r: Response(200, copy.deepcopy(self.agent)))]  # fmt: skip

    def validator(self) -> SpecValidator:
        return SpecValidator.cached("freshdesk", SPEC, _adjust)

    # -- vendor behaviour ---------------------------------------------------------------------
    def check_auth(self, request: Request) -> Response | None:
        expected = base64.b64encode(f"{self.api_key}:X".encode()).decode()
        if request.header("Authorization") != f"Basic {expected}":
            return Response(401, {"code": "invalid_credentials",
                                  "message": "You have to be logged in to perform this action."})  # fmt: skip
        return None

    def error_body(self, status: int, code: str | None = None, message: str | None = None) -> Any:
        return {"description": message or _ERRORS.get(status, "Error"),
                "errors": [{"field": "", "message": message or _ERRORS.get(status, "Error"),
                            "code": code or "invalid_value"}]}  # fmt: skip

    def invalid_request(self, request: Request, errors: list[str]) -> Response:
        return Response(400, {"description": "Validation failed",
                              "errors": [{"field": "", "message": e, "code": "invalid_value"} for e in errors]})  # fmt: skip

    def _handle(self, request: Request) -> Response:
        response = super()._handle(request)
        if self.rate_remaining is not None:
            self.rate_remaining = max(0, self.rate_remaining - 1)
            response.headers.update({"X-RateLimit-Total": "100", "X-RateLimit-Remaining": str(self.rate_remaining),
                                     "X-RateLimit-Used-CurrentRequest": "1"})  # fmt: skip
        return response

    # -- state helpers ------------------------------------------------------------------------
    def notes(self, ticket_id: int | str) -> list[str]:
        """The bodies of a ticket's private notes, oldest first."""
        return [c["body"] for c in self.conversations.get(int(ticket_id), []) if c["private"]]

    def _now(self) -> str:
        return self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")

    def _check(self, data: dict[str, Any]) -> Response | None:
        group = data.get("group_id")
        if group is not None and group not in self.groups:
            return Response(400, {"description": "Validation failed", "errors": [
                {"field": "group_id", "message": "There is no group matching the given group_id",
                 "code": "invalid_value"}]})  # fmt: skip
        known = {f["name"] for f in self.ticket_fields}
        unknown = sorted(set(data.get("custom_fields") or {}) - known)
        if unknown:
            return Response(400, {"description": "Validation failed", "errors": [
                {"field": name, "message": "Unexpected/invalid field in request", "code": "invalid_field"}
                for name in unknown]})  # fmt: skip
        return None

    # -- handlers -----------------------------------------------------------------------------
    def _create(self, request: Request) -> Response:
        data = request.json
        refused = self._check(data)
        if refused is not None:
            return refused
        ticket_id, self._next_id = self._next_id, self._next_id + 1
        ticket = {"id": ticket_id, "subject": data["subject"], "description": data["description"],
                  "requester_email": data.get("email"), "priority": data["priority"], "status": data["status"],
                  "source": data.get("source", 2), "group_id": data.get("group_id"), "type": data.get("type"),
                  "tags": list(data.get("tags") or []), "custom_fields": dict(data.get("custom_fields") or {}),
                  "responder_id": None, "created_at": self._now(), "updated_at": self._now()}  # fmt: skip
        self.tickets[ticket_id] = ticket
        self.conversations[ticket_id] = []
        return Response(
            201, copy.deepcopy(ticket), {"Location": f"{self.base_url}/api/v2/tickets/{ticket_id}"}
        )

    def _list(self, request: Request) -> Response:
        email, since = request.arg("email"), request.arg("updated_since")
        if email is not None and email not in {t["requester_email"] for t in self.tickets.values()}:
            # Freshdesk refuses a requester filter for an e-mail that has no contact
            return Response(400, {"description": "Validation failed", "errors": [
                {"field": "email", "message": "There is no contact matching the given email",
                 "code": "invalid_value"}]})  # fmt: skip
        rows = [t for t in self.tickets.values()
                if (email is None or t["requester_email"] == email) and (since is None or t["updated_at"] >= since)]  # fmt: skip
        page, per_page = int(request.arg("page") or 1), int(request.arg("per_page") or 30)
        return Response(200, copy.deepcopy(rows[(page - 1) * per_page : page * per_page]))

    def _show(self, request: Request) -> Response:
        ticket = self.tickets.get(int(request.params["id"]))
        return Response(200, copy.deepcopy(ticket)) if ticket else self.error(404)

    def _update(self, request: Request) -> Response:
        ticket = self.tickets.get(int(request.params["id"]))
        if ticket is None:
            return self.error(404)
        refused = self._check(request.json)
        if refused is not None:
            return refused
        ticket.update(request.json)
        ticket["updated_at"] = self._now()
        return Response(200, copy.deepcopy(ticket))

    def _add_note(self, request: Request) -> Response:
        ticket_id = int(request.params["id"])
        if ticket_id not in self.tickets:
            return self.error(404)
        data = request.json
        note = {"id": self._next_note, "body": data["body"], "body_text": data["body"],
                "private": data.get("private", True), "incoming": data.get("incoming", False),
                "user_id": self.agent["id"], "ticket_id": ticket_id, "source": 2,
                "created_at": self._now(), "updated_at": self._now()}  # fmt: skip
        self._next_note += 1
        self.conversations[ticket_id].append(note)
        self.tickets[ticket_id]["updated_at"] = self._now()
        return Response(201, copy.deepcopy(note))

    def _conversations(self, request: Request) -> Response:
        ticket_id = int(request.params["id"])
        if ticket_id not in self.tickets:
            return self.error(404)
        page, per_page = int(request.arg("page") or 1), int(request.arg("per_page") or 30)
        return Response(
            200,
            copy.deepcopy(self.conversations[ticket_id][(page - 1) * per_page : page * per_page]),
        )
