"""A local ServiceNow instance for the Table API: CSM cases with their journal, contacts, groups,
the dictionary, and the OAuth client-credentials token endpoint.

Requests are validated against the Ballerina team's OpenAPI document of the REST API (Quebec; see
``PROVENANCE.md``) for the envelope: paths, ``sysparm_*`` parameters, the JSON body. The Table API
is schemaless by design, so the case's fields are checked against ``CASE_FIELDS`` below, the
fields of ``sn_customerservice_case`` and its parent ``task`` that the connector may write (from
ServiceNow's table reference: https://docs.servicenow.com/bundle/washingtondc-customer-service-management/page/product/customer-service-management/reference/r_CaseFields.html),
plus the stand-in's ``custom_fields``. A real instance drops an unknown field silently; the
stand-in refuses it (400) and records it in ``validation_errors``, so our mistakes show.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from .base import Request, Response, StandinServer
from .specs import SpecValidator, mark

__all__ = ["CASE_FIELDS", "ServiceNowStandin"]

SPEC = "servicenow/servicenow-quebec.ballerina.openapi.yaml"
CASE_TABLE = "sn_customerservice_case"
CASE_FIELDS = {
    "short_description", "description", "priority", "state", "contact", "account", "consumer",
    "assignment_group", "assigned_to", "contact_type", "category", "product", "correlation_id",
    "correlation_display", "work_notes", "comments", "impact", "urgency",
}  # fmt: skip
JOURNAL = ("work_notes", "comments")
_MESSAGES = {
    400: "Invalid request", 403: "Operation Failed", 404: "No Record found",
    409: "Conflict", 422: "Unprocessable Entity", 429: "Rate limit exceeded",
    500: "Internal server error", 503: "Service Unavailable",
}  # fmt: skip


def _adjust(document: dict[str, Any]) -> None:
    # the file keys responses by bare integers (PyYAML reads 201:), openapi-core wants strings
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"] = {str(k): v for k, v in operation["responses"].items()}
    # the file lists only Bearer; the Table API takes basic auth as well
    document["security"] = [{"basicAuth": []}, {"Bearer": []}]
    document["paths"]["/oauth_token.do"] = {"post": mark({
        "security": [],
        "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["grant_type", "client_id", "client_secret"],
            "properties": {"grant_type": {"type": "string", "enum": ["client_credentials"]},
                           "client_id": {"type": "string"}, "client_secret": {"type": "string"}}}}}},
        "responses": {"200": {"description": "token"}},
    }, "the OAuth token endpoint (docs: 'OAuth client credentials grant type'), not in the file")}  # fmt: skip


class ServiceNowStandin(StandinServer):
    """ServiceNow on ``127.0.0.1`` (HTTPS).

    ``username``/``password`` are the basic-auth credentials; ``client_id``/``client_secret``
    obtain Bearer tokens from ``/oauth_token.do``. ``groups`` seeds ``sys_user_group`` (sys_id →
    name), ``contacts`` seeds ``customer_contact``, ``custom_fields`` adds case fields (``u_…``).
    State: ``tables[table][sys_id]`` and ``journal`` (work notes and comments, oldest first).
    """

    vendor = "servicenow"

    def __init__(self, *, username: str = "handoff.integration", password: str = "sn-test-password",
                 client_id: str = "sn-client-id", client_secret: str = "sn-client-secret",
                 groups: dict[str, str] | None = None, contacts: list[dict[str, Any]] | None = None,
                 custom_fields: set[str] | None = None, tls: bool = True,
                 clock: Callable[[], dt.datetime] | None = None) -> None:  # fmt: skip
        super().__init__(tls=tls)
        self.username, self.password = username, password
        self.client_id, self.client_secret = client_id, client_secret
        self.tokens: set[str] = set()
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.custom_fields = set(custom_fields or ())
        self.tables: dict[str, dict[str, dict[str, Any]]] = {CASE_TABLE: {}, "customer_contact": {},
                                                              "sys_user_group": {}, "sys_dictionary": {}}  # fmt: skip
        for sys_id, name in (groups or {"a" * 32: "Tier 1", "b" * 32: "Billing"}).items():
            self.tables["sys_user_group"][sys_id] = {
                "sys_id": sys_id,
                "name": name,
                "active": "true",
            }
        for contact in contacts or []:
            self.tables["customer_contact"][contact["sys_id"]] = dict(contact)
        for field in sorted(CASE_FIELDS | self.custom_fields):
            sys_id = secrets.token_hex(16)
            table = (
                CASE_TABLE
                if field.startswith("u_") or field in ("contact", "account", "consumer", "product")
                else "task"
            )
            self.tables["sys_dictionary"][sys_id] = {
                "sys_id": sys_id,
                "name": table,
                "element": field,
            }
        self.journal: list[dict[str, Any]] = []
        self._number = 1001

    def routes(self) -> list[tuple[str, str, Any]]:
        t = r"/api/now/table/(?P<table>[a-z_0-9]+)"
        return [("GET", t, self._list), ("POST", t, self._create),
                ("GET", t + r"/(?P<id>[0-9a-f]{32})", self._show),
                ("PATCH", t + r"/(?P<id>[0-9a-f]{32})", self._update),
                ("POST", "/oauth_token.do", self._token)]  # fmt: skip

    def validator(self) -> SpecValidator:
        return SpecValidator.cached("servicenow", SPEC, _adjust)

    # -- vendor behaviour ---------------------------------------------------------------------
    def check_auth(self, request: Request) -> Response | None:
        if request.path == "/oauth_token.do":
            return None
        auth = request.header("Authorization") or ""
        basic = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if auth == f"Basic {basic}" or (auth.startswith("Bearer ") and auth[7:] in self.tokens):
            return None
        return Response(401, {"error": {"message": "User Not Authenticated",
                                        "detail": "Required to provide Auth information"},
                              "status": "failure"})  # fmt: skip

    def error_body(self, status: int, code: str | None = None, message: str | None = None) -> Any:
        return {"error": {"message": message or _MESSAGES.get(status, "Error"), "detail": code},
                "status": "failure"}  # fmt: skip

    def invalid_request(self, request: Request, errors: list[str]) -> Response:
        return self.error(400, message="; ".join(errors))

    def prepare_for_validation(self, request: Request) -> Any:
        # None: the validator reads the raw body (the token request is a form, not JSON)
        return None if request.path == "/oauth_token.do" else request.json

    def revoke_tokens(self) -> None:
        """Expire every OAuth token: the next Bearer call answers 401."""
        self.tokens.clear()

    # -- state helpers ------------------------------------------------------------------------
    @property
    def cases(self) -> dict[str, dict[str, Any]]:
        return self.tables[CASE_TABLE]

    def notes(self, sys_id: str, element: str = "work_notes") -> list[str]:
        """The journal entries of one case and field, oldest first."""
        return [
            j["value"]
            for j in self.journal
            if j["element_id"] == sys_id and j["element"] == element
        ]

    def _now(self) -> str:
        return self.clock().strftime("%Y-%m-%d %H:%M:%S")

    def _user(self, request: Request) -> str:
        return (
            self.username
            if (request.header("Authorization") or "").startswith("Basic")
            else "oauth.client"
        )

    def _matches(self, record: dict[str, Any], query: str) -> bool:
        for term in query.split("^"):
            if not term or term.startswith("ORDERBY"):
                continue
            if "IN" in term and "=" not in term:
                field, _, values = term.partition("IN")
                if str(record.get(field, "")) not in values.split(","):
                    return False
            else:
                field, _, value = term.partition("=")
                if str(record.get(field, "")) != value:
                    return False
        return True

    def _view(self, table: str, record: dict[str, Any], request: Request) -> dict[str, Any]:
        fields = request.arg("sysparm_fields")
        shown = copy.deepcopy(record)
        if request.arg("sysparm_display_value") == "true":
            for element in JOURNAL:
                entries = [
                    j
                    for j in self.journal
                    if j["element_id"] == record["sys_id"] and j["element"] == element
                ]
                shown[element] = "".join(f"{j['sys_created_on']} - {j['sys_created_by']} ({element})\n{j['value']}\n\n"
                                         for j in reversed(entries))  # fmt: skip
        else:
            for element in JOURNAL:
                shown[element] = ""
        if fields:
            shown = {f: shown.get(f, "") for f in fields.split(",") if f in shown or f in JOURNAL}
        return shown

    def _write(
        self, table: str, record: dict[str, Any], data: dict[str, Any], request: Request
    ) -> Response | None:
        if table == CASE_TABLE:
            unknown = sorted(set(data) - CASE_FIELDS - self.custom_fields)
            if unknown:
                self.validation_errors.append(
                    mark_problem(request, f"unknown case fields {unknown}")
                )
                return self.error(400, message=f"Invalid fields: {', '.join(unknown)}")
        for key, value in data.items():
            if key in JOURNAL:
                if value:
                    self.journal.append({"element_id": record["sys_id"], "element": key, "value": str(value),
                                         "sys_created_by": self._user(request), "sys_created_on": self._now()})  # fmt: skip
            else:
                record[key] = "" if value is None else str(value)
        record["sys_mod_count"] = str(int(record.get("sys_mod_count", "-1")) + 1)
        record["sys_updated_on"], record["sys_updated_by"] = self._now(), self._user(request)
        return None

    # -- handlers -----------------------------------------------------------------------------
    def _list(self, request: Request) -> Response:
        table = self.tables.get(request.params["table"])
        if table is None:
            return self.error(400, message="Invalid table name")
        query = request.arg("sysparm_query") or ""
        rows = [r for r in table.values() if self._matches(r, query)]
        limit = int(request.arg("sysparm_limit") or 10000)
        shown = [self._view(request.params["table"], r, request) for r in rows[:limit]]
        return Response(200, {"result": shown}, {"X-Total-Count": str(len(rows))})

    def _show(self, request: Request) -> Response:
        record = self.tables.get(request.params["table"], {}).get(request.params["id"])
        if record is None:
            return self.error(
                404,
                message="No Record found",
                code="Record doesn't exist or ACL restricts the record retrieval",
            )
        return Response(200, {"result": self._view(request.params["table"], record, request)})

    def _create(self, request: Request) -> Response:
        name = request.params["table"]
        if name not in self.tables or not isinstance(request.json, dict):
            return self.error(400, message="Invalid table name or body")
        sys_id = secrets.token_hex(16)
        record: dict[str, Any] = {"sys_id": sys_id, "sys_created_on": self._now(), "state": "1",
                                  "assigned_to": "", "assignment_group": ""}  # fmt: skip
        if name == CASE_TABLE:
            record["number"], self._number = f"CS{self._number:07d}", self._number + 1
        refused = self._write(name, record, request.json, request)
        if refused is not None:
            return refused
        self.tables[name][sys_id] = record
        headers = {"Location": f"{self.base_url}/api/now/table/{name}/{sys_id}"}
        return Response(201, {"result": self._view(name, record, request)}, headers)

    def _update(self, request: Request) -> Response:
        name = request.params["table"]
        record = self.tables.get(name, {}).get(request.params["id"])
        if record is None:
            return self.error(404, message="No Record found")
        refused = self._write(name, record, request.json or {}, request)
        return refused or Response(200, {"result": self._view(name, record, request)})

    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return Response(401, {"error_description": "access_denied", "error": "server_error"})
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        return Response(200, {"access_token": token, "scope": "useraccount", "token_type": "Bearer",
                              "expires_in": 1799})  # fmt: skip


def mark_problem(request: Request, message: str) -> Any:
    from .base import ValidationProblem

    return ValidationProblem(request.method, request.path, [message])
