"""A local Zendesk Support API for zenpy: tickets with external ids, comments, audits, groups.

Requests are validated against Zendesk's published ``oas.yaml``; responses are shaped like the real
ones recorded in ``recorded/zendesk/`` (a create answers ``{ticket, audit}`` with status 201).
zenpy reaches it through ``ZENPY_FORCE_SCHEME``/``ZENPY_FORCE_NETLOC`` (see ``fixtures.py``).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import html
import json
from collections.abc import Callable
from typing import Any

from .base import Request, Response, StandinServer
from .specs import SpecValidator, spec_file

__all__ = ["ZendeskStandin"]

SPEC = "zendesk/zendesk-support-oas.yaml"
TICKET_TEMPLATE = "recorded/zendesk/ticket_create_201.json"
_ERRORS = {
    400: ("InvalidValue", "Invalid request"),
    403: ("Forbidden", "You do not have access to this page."),
    404: ("RecordNotFound", "Not found"),
    409: ("UpdateConflict", "Safe Update prevented the update due to outdated ticket data."),
    422: ("RecordInvalid", "Record validation errors"),
    429: ("APIRateLimitExceeded", "Number of allowed API requests per minute exceeded"),
    500: ("InternalServerError", "Something went wrong"),
    503: ("ServiceUnavailable", "Zendesk is temporarily unavailable"),
}
_TICKET_FIELDS = (
    "subject",
    "priority",
    "status",
    "type",
    "group_id",
    "assignee_id",
    "external_id",
    "brand_id",
    "organization_id",
    "due_at",
    "requester_id",
)


def _adjust(document: dict[str, Any]) -> None:
    # openapi-core cannot deserialise a deepObject parameter whose schema is a oneOf without a
    # ``type``: keep the object branch (zenpy sends ``page[size]``), as documented for cursors.
    for param in document["components"]["parameters"].values():
        schema = param.get("schema", {})
        if param.get("style") == "deepObject" and "type" not in schema and "oneOf" in schema:
            param["schema"] = next(s for s in schema["oneOf"] if s.get("type") == "object")
            param["x-adjusted-by-hand"] = "openapi-core needs type: object for deepObject"


class ZendeskStandin(StandinServer):
    """Zendesk Support on ``127.0.0.1``.

    ``email``/``token`` are the expected API-token credentials (``email/token:TOKEN`` basic auth).
    ``groups`` and ``ticket_fields`` seed the account (lists of ``{"id", "name"}`` and
    ``{"id", "title", "type"}``). State: ``tickets`` (id → ticket as the API returns it),
    ``comments`` (id → list), ``audits`` (id → list); ``find_tickets(external_id=...)``.
    ``lookup_lag_seconds`` makes the external_id lookup miss a ticket that young (on ``clock``).
    """

    vendor = "zendesk"

    def __init__(
        self,
        *,
        email: str = "agent@example.com",
        token: str = "zendesk-test-token",
        subdomain: str = "standin",
        groups: list[dict[str, Any]] | None = None,
        ticket_fields: list[dict[str, Any]] | None = None,
        tls: bool = True,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        super().__init__(tls=tls)
        self.email, self.token, self.subdomain = email, token, subdomain
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.me = {"id": 6130907993114, "name": "Handoff Bot", "email": email, "role": "admin"}
        self.users: dict[int, dict[str, Any]] = {self.me["id"]: self.me}
        self.groups = groups or [
            {"id": 6130852536346, "name": "Support"},
            {"id": 6130852536347, "name": "Billing"},
        ]
        self.ticket_fields = ticket_fields or [
            {"id": 360001, "title": "Handoff ID", "type": "text"},
            {"id": 360002, "title": "Sentiment", "type": "tagger"},
        ]
        self.tickets: dict[int, dict[str, Any]] = {}
        # a lookup by external_id that lags the writes (seconds on ``clock``), for ambiguous-create tests
        self.lookup_lag_seconds = 0.0
        self._visible_at: dict[int, dt.datetime] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.audits: dict[int, list[dict[str, Any]]] = {}
        self._ids = iter(range(6164039218714, 10**15, 128))
        self._next_ticket = 4014
        with spec_file(TICKET_TEMPLATE).open(encoding="utf-8") as fh:
            self._template = json.load(fh)["response"]["json"]

    def routes(self) -> list[tuple[str, str, Any]]:
        t = r"/api/v2/tickets/(?P<id>\d+)"
        return [
            ("POST", "/api/v2/tickets", self._create),
            ("GET", "/api/v2/tickets", self._list),
            ("GET", t, self._show),
            ("PUT", t, self._update),
            ("GET", t + "/tags", lambda r: self._tags(r, "list")),
            ("PUT", t + "/tags", lambda r: self._tags(r, "add")),
            ("POST", t + "/tags", lambda r: self._tags(r, "set")),
            ("DELETE", t + "/tags", lambda r: self._tags(r, "remove")),
            ("GET", t + "/comments", self._comments),
            ("GET", t + "/audits", self._audits),
            ("GET", "/api/v2/groups", lambda r: self._page("groups", self.groups)),
            (
                "GET",
                "/api/v2/ticket_fields",
                lambda r: self._page("ticket_fields", self.ticket_fields),
            ),
            ("GET", "/api/v2/users/me", lambda r: Response(200, {"user": self.me})),
        ]

    def validator(self) -> SpecValidator:
        return SpecValidator.cached("zendesk", SPEC, _adjust)

    def client_env(self) -> dict[str, str]:
        """zenpy's documented overrides plus, over TLS, the CA bundle for requests."""
        env = super().client_env() | {"ZENPY_FORCE_NETLOC": self.netloc}
        if not self.tls:
            env["ZENPY_FORCE_SCHEME"] = "http"
        return env

    # -- vendor behaviour ---------------------------------------------------------------------
    def normalise_path(self, path: str) -> str:
        return path.removesuffix(".json")

    def prepare_for_validation(self, request: Request) -> Any:
        # zenpy sends the read-only ``ticket.id`` on update; Zendesk ignores it and only warns
        # (``x-zendesk-api-warn: unpermitted_keys=[ticket.id]`` in the recorded update).
        body = request.json
        if isinstance(body, dict) and isinstance(body.get("ticket"), dict):
            body = {**body, "ticket": {k: v for k, v in body["ticket"].items() if k != "id"}}
        return body

    def check_auth(self, request: Request) -> Response | None:
        expected = base64.b64encode(f"{self.email}/token:{self.token}".encode()).decode()
        if request.header("Authorization") != f"Basic {expected}":
            return Response(401, {"error": "Couldn't authenticate you"})
        return None

    def error_body(self, status: int, code: str | None = None, message: str | None = None) -> Any:
        if status == 401:
            return {"error": "Couldn't authenticate you"}
        default_code, default_message = _ERRORS.get(status, ("Error", "Error"))
        return {"error": code or default_code, "description": message or default_message}

    def invalid_request(self, request: Request, errors: list[str]) -> Response:
        details = {"base": [{"description": e, "error": "InvalidValue"} for e in errors]}
        body = {"error": "RecordInvalid", "description": "Record validation errors"}
        if request.method == "GET":
            return Response(400, {"error": "InvalidParameter", "description": "; ".join(errors)})
        return Response(422, {**body, "details": details})

    # -- state helpers ------------------------------------------------------------------------
    def find_tickets(self, *, external_id: str) -> list[dict[str, Any]]:
        """Tickets whose ``external_id`` equals ``external_id`` (not necessarily unique)."""
        return [t for t in self.tickets.values() if t["external_id"] == external_id]

    def internal_notes(self, ticket_id: int) -> list[dict[str, Any]]:
        """The private comments (``public: false``) of a ticket."""
        return [c for c in self.comments.get(ticket_id, []) if not c["public"]]

    def _now(self) -> str:
        return self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")

    def _url(self, ticket_id: int) -> str:
        return f"https://{self.subdomain}.zendesk.com/api/v2/tickets/{ticket_id}.json"

    def _requester(self, data: dict[str, Any]) -> int:
        requester = data.get("requester")
        if isinstance(requester, dict) and requester.get("email"):
            for user in self.users.values():
                if user.get("email") == requester["email"]:
                    return int(user["id"])
            user = {"id": next(self._ids), "name": requester.get("name"), "role": "end-user"}
            self.users[user["id"]] = {**user, "email": requester["email"]}
            return int(user["id"])
        return int(data.get("requester_id") or self.me["id"])

    def _check(self, data: dict[str, Any]) -> str | None:
        group = data.get("group_id")
        if group is not None and all(g["id"] != group for g in self.groups):
            return f"Group: {group} is invalid"
        return None

    def _comment(self, ticket_id: int, audit_id: int, data: dict[str, Any]) -> dict[str, Any]:
        body = data.get("body") or ""
        comment = {
            "id": next(self._ids),
            "type": "Comment",
            "author_id": data.get("author_id") or self.me["id"],
            "body": body,
            "html_body": data.get("html_body") or f"<p>{html.escape(body)}</p>",
            "plain_body": body,
            "public": data.get("public", True),
            "attachments": [],
            "audit_id": audit_id,
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": self._now(),
            "metadata": {"system": {"client": "standin"}, "custom": {}},
        }
        self.comments.setdefault(ticket_id, []).append(comment)
        return comment

    def _audit(self, ticket_id: int, events: list[dict[str, Any]]) -> dict[str, Any]:
        audit = copy.deepcopy(self._template["audit"])
        audit.update(id=next(self._ids), ticket_id=ticket_id, created_at=self._now(), events=events)
        self.audits.setdefault(ticket_id, []).append(audit)
        return audit

    def _apply(self, ticket: dict[str, Any], data: dict[str, Any], kind: str) -> list[Any]:
        events = []
        for name in _TICKET_FIELDS:
            if name in data and (kind == "Create" or ticket.get(name) != data[name]):
                event = {"id": next(self._ids), "type": kind, "field_name": name}
                event.update(value=data[name], previous_value=ticket.get(name))
                events.append(event)
                ticket[name] = data[name]
        tags = list(ticket["tags"])
        if "tags" in data:
            tags = list(dict.fromkeys(data["tags"]))
        tags += [t for t in data.get("additional_tags", []) if t not in tags]
        tags = [t for t in tags if t not in data.get("remove_tags", [])]
        if tags != ticket["tags"]:
            events.append(
                {
                    "id": next(self._ids),
                    "type": kind,
                    "field_name": "tags",
                    "value": tags,
                    "previous_value": ticket["tags"],
                }
            )
            ticket["tags"] = tags
        values = {f["id"]: f["value"] for f in ticket["custom_fields"]}
        for entry in data.get("custom_fields") or data.get("fields") or []:
            values[entry["id"]] = entry.get("value")
        ticket["custom_fields"] = [{"id": k, "value": v} for k, v in values.items()]
        ticket["fields"] = copy.deepcopy(ticket["custom_fields"])
        ticket["updated_at"] = self._now()
        return events

    # -- handlers -----------------------------------------------------------------------------
    def _create(self, request: Request) -> Response:
        data = dict(request.json["ticket"])
        problem = self._check(data)
        if problem:
            return self.error(422, message=problem)
        ticket_id, self._next_ticket = self._next_ticket, self._next_ticket + 1
        ticket = copy.deepcopy(self._template["ticket"])
        comment = data.get("comment") or {"body": data.get("description", "")}
        ticket.update(
            id=ticket_id,
            url=self._url(ticket_id),
            created_at=self._now(),
            tags=[],
            custom_fields=[],
            status="new",
            priority=None,
            type=None,
            external_id=None,
            group_id=None,
            organization_id=None,
            description=comment.get("body", ""),
            is_public=comment.get("public", True),
        )
        data["requester_id"] = self._requester(data)
        data.setdefault("status", "open" if data.get("assignee_id") else "new")
        audit_id = next(self._ids)
        events = [
            {
                "id": next(self._ids),
                "type": "Comment",
                **self._comment(ticket_id, audit_id, comment),
            }
        ]
        events += self._apply(ticket, data, "Create")
        ticket["raw_subject"] = ticket["subject"]
        self.tickets[ticket_id] = ticket
        self._visible_at[ticket_id] = self.clock() + dt.timedelta(seconds=self.lookup_lag_seconds)
        audit = self._audit(ticket_id, events)
        audit["id"] = audit_id
        headers = {"Location": self._url(ticket_id)}
        return Response(201, {"ticket": copy.deepcopy(ticket), "audit": audit}, headers)

    def _update(self, request: Request) -> Response:
        ticket = self.tickets.get(int(request.params["id"]))
        if ticket is None:
            return self.error(404)
        data = request.json["ticket"]
        bulk_only = sorted(k for k in ("additional_tags", "remove_tags") if k in data)
        if bulk_only:  # the published spec has these on the bulk update only (update_many)
            return self.error(
                400,
                message=f"{', '.join(bulk_only)}: not a field of the single-ticket "
                "update; use the ticket tags endpoints or update_many",
            )
        problem = self._check(data)
        if problem:
            return self.error(422, message=problem)
        audit_id = next(self._ids)
        events = self._apply(ticket, data, "Change")
        if data.get("comment"):
            comment = self._comment(ticket["id"], audit_id, data["comment"])
            events.insert(0, {"type": "Comment", **comment})
        audit = self._audit(ticket["id"], events)
        audit["id"] = audit_id
        headers = {}
        if "id" in data:
            headers["x-zendesk-api-warn"] = (
                '{:allowed_parameters=>{:controller=>"tickets", :action=>"update", '
                ':unpermitted_keys=>["ticket.id"], :invalid_values=>[]}}'
            )
        return Response(200, {"ticket": copy.deepcopy(ticket), "audit": audit}, headers)

    def _tags(self, request: Request, verb: str) -> Response:
        """List Resource Tags, Add Tags (PUT), Set Tags (POST), Remove Tags (DELETE)."""
        ticket = self.tickets.get(int(request.params["id"]))
        if ticket is None:
            return self.error(404)
        if verb != "list":
            given = list(dict.fromkeys((request.json or {}).get("tags") or []))
            tags = {
                "add": list(ticket["tags"]) + [t for t in given if t not in ticket["tags"]],
                "set": given,
                "remove": [t for t in ticket["tags"] if t not in given],
            }[verb]
            if tags != ticket["tags"]:
                event = {
                    "id": next(self._ids),
                    "type": "Change",
                    "field_name": "tags",
                    "value": tags,
                    "previous_value": ticket["tags"],
                }
                ticket["tags"], ticket["updated_at"] = tags, self._now()
                self._audit(ticket["id"], [event])
        return Response(201 if verb == "set" else 200, {"tags": list(ticket["tags"])})

    def _show(self, request: Request) -> Response:
        ticket = self.tickets.get(int(request.params["id"]))
        return Response(200, {"ticket": ticket}) if ticket else self.error(404)

    def _list(self, request: Request) -> Response:
        external_id, now = request.arg("external_id"), self.clock()
        found = [
            t
            for t in self.tickets.values()
            if external_id is None
            or (t["external_id"] == external_id and self._visible_at.get(t["id"], now) <= now)
        ]
        return self._page("tickets", found, cursor=request.arg("page[size]") is not None)

    def _comments(self, request: Request) -> Response:
        ticket_id = int(request.params["id"])
        if ticket_id not in self.tickets:
            return self.error(404)
        return self._page(
            "comments",
            self.comments.get(ticket_id, []),
            cursor=request.arg("page[size]") is not None,
        )

    def _audits(self, request: Request) -> Response:
        ticket_id = int(request.params["id"])
        if ticket_id not in self.tickets:
            return self.error(404)
        return self._page(
            "audits", self.audits.get(ticket_id, []), cursor=request.arg("page[size]") is not None
        )

    def _page(self, key: str, items: list[Any], *, cursor: bool = False) -> Response:
        body: dict[str, Any] = {key: copy.deepcopy(items)}
        if cursor:  # one page is always enough here
            body["meta"] = {"has_more": False, "after_cursor": None, "before_cursor": None}
            body["links"] = {"prev": None, "next": None}
        else:
            body.update(next_page=None, previous_page=None, count=len(items))
        return Response(200, body)
