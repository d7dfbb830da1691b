"""A local Salesforce (Service Cloud) REST API v59.0 for simple-salesforce.

Cases with upsert on an external-ID field, CaseComment, FeedItem, Omni-Channel
PendingServiceRouting and SkillRequirement, Group (queue) lookups through a small SOQL subset,
``/composite``, and the OAuth client-credentials token endpoint. Requests are validated against the
org-generated sObjects document, completed by hand (``salesforce_spec.py``), with additional
properties forbidden so a misspelt field fails as ``INVALID_FIELD``, as it would in an org.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from .base import Request, Response, StandinServer, ValidationProblem
from .salesforce_spec import API, DEFAULT_CUSTOM_FIELDS, salesforce_validator
from .soql import SoqlError, run_query

__all__ = ["SalesforceStandin"]

_PREFIX = {
    "Case": "500",
    "CaseComment": "00a",
    "FeedItem": "0D5",
    "Group": "00G",
    "Skill": "0C5",
    "SkillRequirement": "0Sk",
    "PendingServiceRouting": "0JR",
    "User": "005",
    "Contact": "003",
    "ServiceChannel": "0N9",
    "MessagingSession": "0Mw",
}
_SYSTEM = {
    "Id",
    "IsDeleted",
    "CaseNumber",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
    "LastViewedDate",
    "LastReferencedDate",
    "IsClosed",
    "MasterRecordId",
}
_ERRORS = {
    400: ("MALFORMED_QUERY", "Bad request"),
    401: ("INVALID_SESSION_ID", "Session expired or invalid"),
    403: ("INSUFFICIENT_ACCESS", "insufficient access rights on object id"),
    404: ("NOT_FOUND", "The requested resource does not exist"),
    409: ("ENTITY_IS_LOCKED", "entity is locked for editing"),
    422: ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Validation rule failed"),
    429: ("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."),
    500: (
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId "
        "if you contact support: 1234567890-12345 (-1234567890)",
    ),
    503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable"),
}
_MESSAGES = {"REQUEST_LIMIT_EXCEEDED": "TotalRequests Limit exceeded."}


class SalesforceStandin(StandinServer):
    """Salesforce on ``127.0.0.1`` (HTTPS by default: simple-salesforce forces ``https://``).

    ``access_token`` is accepted as ``Authorization: Bearer``; ``client_id``/``client_secret``
    obtain more tokens from ``POST /services/oauth2/token``. ``custom_fields`` maps sObject →
    field → JSON schema; ``external_id_fields`` names the fields usable for upsert. ``queues``
    (DeveloperName → Name), ``skills`` and ``service_channels`` (DeveloperName list) seed
    ``Group``, ``Skill`` and ``ServiceChannel``. State: ``records[sobject][id]``, ``find()``.
    """

    vendor = "salesforce"

    def __init__(
        self,
        *,
        access_token: str = "00Dstandin!AQ4AQFakeSessionToken",
        client_id: str = "standin-client-id",
        client_secret: str = "standin-client-secret",
        custom_fields: dict[str, dict[str, dict[str, Any]]] | None = None,
        external_id_fields: dict[str, list[str]] | None = None,
        queues: dict[str, str] | None = None,
        skills: list[str] | None = None,
        service_channels: list[str] | None = None,
        tls: bool = True,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        super().__init__(tls=tls)
        self.client_id, self.client_secret = client_id, client_secret
        self.tokens = {access_token}
        self.custom_fields = custom_fields if custom_fields is not None else DEFAULT_CUSTOM_FIELDS
        self.external_id_fields = external_id_fields or {"Case": ["Handoff_Id__c"]}
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        # SOQL that lags the writes (seconds on ``clock``): a younger record is not found yet
        self.query_lag_seconds = 0.0
        self._visible_at: dict[str, dt.datetime] = {}
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        self._counter = itertools.count(1)
        self._case_numbers = itertools.count(1001)
        self.user_id = self.insert("User", {"Username": "integration@standin.example"})
        for developer_name, name in (
            queues or {"Support_Queue": "Support Queue", "Billing_Queue": "Billing Queue"}
        ).items():
            self.insert("Group", {"Name": name, "DeveloperName": developer_name, "Type": "Queue"})
        for skill in skills or ["English", "Billing"]:
            self.insert("Skill", {"DeveloperName": skill, "MasterLabel": skill})
        for channel in service_channels or ["sfdc_caseChannel"]:
            self.insert("ServiceChannel", {"DeveloperName": channel, "RelatedEntity": "Case"})

    def routes(self) -> list[tuple[str, str, Any]]:
        obj, sid = r"/sobjects/(?P<obj>\w+)", r"(?P<id>[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?)"
        ext = r"/(?P<field>\w+)/(?P<value>[^/]+)"
        return [
            ("POST", f"{API}{obj}/?", self._create),
            ("GET", f"{API}{obj}/{sid}", self._get),
            ("PATCH", f"{API}{obj}/{sid}", self._update),
            ("DELETE", f"{API}{obj}/{sid}", self._delete),
            ("PATCH", f"{API}{obj}{ext}", self._upsert),
            ("GET", f"{API}{obj}{ext}", self._get_by_external_id),
            ("GET", f"{API}/query/?", self._query),
            ("POST", f"{API}/composite/?", self._composite),
            ("POST", "/services/oauth2/token", self._token),
        ]

    def validator(self) -> Any:
        return salesforce_validator(self.custom_fields)

    # -- vendor behaviour ---------------------------------------------------------------------
    def check_auth(self, request: Request) -> Response | None:
        if request.path == "/services/oauth2/token":
            return None
        auth = request.header("Authorization") or ""
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return self.error(401)
        return None

    def error_body(self, status: int, code: str | None = None, message: str | None = None) -> Any:
        default_code, default_message = _ERRORS.get(status, ("UNKNOWN_EXCEPTION", "Error"))
        code = code or default_code
        return [{"message": message or _MESSAGES.get(code, default_message), "errorCode": code}]

    def invalid_request(self, request: Request, errors: list[str]) -> Response:
        for error in errors:
            unknown = re.search(r"\('(\w+)' was unexpected\)|\('(\w+)', .*were unexpected", error)
            if unknown:
                obj = request.params.get("obj", "")
                name = unknown.group(1) or unknown.group(2)
                return self.error(
                    400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj}"
                )
        if request.path == "/services/oauth2/token":
            return Response(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
            )
        code = "MALFORMED_QUERY" if request.method == "GET" else "JSON_PARSER_ERROR"
        return self.error(400, code, "; ".join(errors))

    def revoke_tokens(self) -> None:
        """Expire every session: the next call answers 401 ``INVALID_SESSION_ID``."""
        self.tokens.clear()

    # -- state --------------------------------------------------------------------------------
    def insert(self, sobject: str, fields: dict[str, Any]) -> str:
        """Create a record directly (seeding); returns its 18-character id."""
        record_id = f"{_PREFIX.get(sobject, '0XX')}Hs{next(self._counter):013d}"
        now = self.clock().strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        record = {
            "Id": record_id,
            "IsDeleted": False,
            "CreatedDate": now,
            "LastModifiedDate": now,
            "SystemModstamp": now,
        }
        if sobject == "Case":
            record.update(
                CaseNumber=f"{next(self._case_numbers):08d}",
                Status="New",
                IsClosed=False,
                OwnerId=getattr(self, "user_id", None),
            )
        record.update(fields)
        self.records.setdefault(sobject, {})[record_id] = record
        self._visible_at[record_id] = self.clock() + dt.timedelta(seconds=self.query_lag_seconds)
        return record_id

    def find(self, sobject: str, **where: Any) -> list[dict[str, Any]]:
        """Records of ``sobject`` whose fields equal every ``where`` item."""
        return [
            r
            for r in self.records.get(sobject, {}).values()
            if all(r.get(k) == v for k, v in where.items())
        ]

    def queue_id(self, developer_name: str) -> str:
        """The ``00G…`` id of a seeded queue."""
        return self.find("Group", DeveloperName=developer_name, Type="Queue")[0]["Id"]

    def _view(self, sobject: str, record: dict[str, Any]) -> dict[str, Any]:
        url = f"{API}/sobjects/{sobject}/{record['Id']}"
        return {"attributes": {"type": sobject, "url": url}, **copy.deepcopy(record)}

    def _writable(self, request: Request, data: dict[str, Any]) -> Response | None:
        locked = sorted(set(data) & _SYSTEM)
        if not locked:
            return None
        message = (
            f"Unable to create/update fields: {', '.join(locked)}. Please check the security "
            "settings of this field and verify that it is read/write for your profile."
        )
        self.validation_errors.append(ValidationProblem(request.method, request.path, [message]))
        return self.error(400, "INVALID_FIELD_FOR_INSERT_UPDATE", message)

    def _touch(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        record.update(data)
        record["LastModifiedDate"] = self.clock().strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        if "Status" in data:
            record["IsClosed"] = data["Status"] == "Closed"

    # -- handlers -----------------------------------------------------------------------------
    def _create(self, request: Request) -> Response:
        obj = request.params["obj"]
        denied = self._writable(request, request.json)
        if denied:
            return denied
        record_id = self.insert(obj, request.json)
        return Response(201, {"id": record_id, "success": True, "errors": []})

    def _record(self, request: Request) -> dict[str, Any] | None:
        return self.records.get(request.params["obj"], {}).get(request.params["id"])

    def _get(self, request: Request) -> Response:
        record = self._record(request)
        if record is None:
            return self.error(404)
        view = self._view(request.params["obj"], record)
        wanted = request.arg("fields")
        if wanted:
            names = {"attributes", *(f.strip() for f in wanted.split(","))}
            view = {k: v for k, v in view.items() if k in names}
        return Response(200, view)

    def _update(self, request: Request) -> Response:
        record = self._record(request)
        if record is None:
            return self.error(404)
        denied = self._writable(request, request.json)
        if denied:
            return denied
        self._touch(record, request.json)
        return Response(204)

    def _delete(self, request: Request) -> Response:
        if self._record(request) is None:
            return self.error(404, "ENTITY_IS_DELETED", "entity is deleted")
        del self.records[request.params["obj"]][request.params["id"]]
        return Response(204)

    def _external(self, request: Request) -> tuple[list[dict[str, Any]] | None, Response | None]:
        obj, field = request.params["obj"], request.params["field"]
        if field not in self.external_id_fields.get(obj, []) and field != "Id":
            message = f"Provided external ID field does not exist or is not accessible: {field}"
            self.validation_errors.append(
                ValidationProblem(request.method, request.path, [message])
            )
            return None, self.error(404, "NOT_FOUND", message)
        return self.find(obj, **{field: request.params["value"]}), None

    def _upsert(self, request: Request) -> Response:
        obj, field, value = (request.params[k] for k in ("obj", "field", "value"))
        matches, problem = self._external(request)
        if problem:
            return problem
        data = dict(request.json)
        denied = self._writable(request, data)
        if denied:
            return denied
        if data.get(field, value) != value:
            return self.error(400, "INVALID_FIELD", f"{field} in the body does not match the URL")
        assert matches is not None
        if len(matches) > 1:
            return Response(300, [f"{API}/sobjects/{obj}/{r['Id']}" for r in matches])
        if not matches:
            record_id = self.insert(obj, {**data, field: value})
            return Response(201, {"id": record_id, "success": True, "errors": [], "created": True})
        self._touch(matches[0], data)
        body = {"id": matches[0]["Id"], "success": True, "errors": [], "created": False}
        return Response(200, body)

    def _get_by_external_id(self, request: Request) -> Response:
        matches, problem = self._external(request)
        if problem:
            return problem
        if not matches:
            return self.error(404)
        return Response(200, self._view(request.params["obj"], matches[0]))

    def _query(self, request: Request) -> Response:
        schemas = self.validator().document["components"]["schemas"]
        try:
            now = self.clock()
            visible = {
                obj: {i: r for i, r in rows.items() if self._visible_at.get(i, now) <= now}
                for obj, rows in self.records.items()
            }
            return Response(200, run_query(request.arg("q") or "", visible, schemas, API))
        except SoqlError as exc:
            return self.error(400, exc.code, str(exc))

    def _composite(self, request: Request) -> Response:
        results: dict[str, Any] = {}
        answers = []
        all_or_none = request.json.get("allOrNone", False)
        for sub in request.json["compositeRequest"]:
            if all_or_none and any(a["httpStatusCode"] >= 400 for a in answers):
                answers.append(
                    {
                        "body": [
                            {
                                "errorCode": "PROCESSING_HALTED",
                                "message": "The transaction was rolled back.",
                            }
                        ],
                        "httpHeaders": {},
                        "httpStatusCode": 400,
                        "referenceId": sub["referenceId"],
                    }
                )
                continue
            text = json.dumps({"url": sub["url"], "body": sub.get("body")})
            text = re.sub(r"@\{(\w+)\.(\w+)\}", lambda m: str(results[m[1]].get(m[2])), text)
            resolved = json.loads(text)
            path, _, query = resolved["url"].partition("?")
            inner = Request(
                sub["method"],
                path,
                parse_qs(query),
                request.headers,
                json.dumps(resolved["body"]).encode() if resolved["body"] is not None else b"",
                resolved["body"],
            )
            answer = self._handle(inner)
            results[sub["referenceId"]] = answer.body if isinstance(answer.body, dict) else {}
            answers.append(
                {
                    "body": answer.body,
                    "httpHeaders": answer.headers,
                    "httpStatusCode": answer.status,
                    "referenceId": sub["referenceId"],
                }
            )
        return Response(200, {"compositeResponse": answers})

    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return Response(
                400, {"error": "invalid_client", "error_description": "invalid client credentials"}
            )
        token = f"00Dstandin!{secrets.token_urlsafe(24)}"
        self.tokens.add(token)
        return Response(
            200,
            {
                "access_token": token,
                "instance_url": self.base_url,
                "token_type": "Bearer",
                "id": f"{self.base_url}/id/00Dstandin000001/{self.user_id}",
                "scope": "api",
                "issued_at": str(int(self.clock().timestamp() * 1000)),
                "signature": secrets.token_urlsafe(32),
            },
        )
