"""Salesforce Service Cloud: a Case upserted on an external ID, the payload as an internal note.

Three steps, as everywhere: ``build_case`` turns the payload into Case fields, headers and a note
(pure, no I/O), ``deliver`` sends them with simple-salesforce, the answer gives the Case id. Each
step of a delivery is idempotent, so a retry after any failure (even a timeout after Salesforce
applied the request) ends with one Case, one note, one routing request:

- the Case is upserted on ``external_id_field`` = handoff id (``PATCH …/Case/Handoff_Id__c/<id>``);
  from the second attempt on, the Case is looked up first and its fields are left alone, so a late
  retry never takes a Case back from the agent who already owns it;
- the note carries a marker (``[handoff-connector ref:<digest>]``) and is written only when no note
  of the Case carries it yet;
- Omni-Channel: one ``PendingServiceRouting`` per Case (looked up by ``WorkItemId``) and one
  ``SkillRequirement`` per skill (looked up by ``RelatedRecordId``).

simple-salesforce never retries and its exceptions carry no headers; the session below bounds every
request with a timeout and remembers ``Retry-After``. Errors are mapped at the edge (``_mapped``):
400/404/409/422 and other 403s are permanent, 403 ``REQUEST_LIMIT_EXCEEDED``, 408, 429, 5xx,
timeouts and connection errors are transient, a 401 re-authenticates once (client credentials or
JWT) and is permanent after that.

Inbound: a record-triggered Flow posts JSON to ``/v1/webhooks/salesforce`` with the shared secret in
``X-Handoff-Salesforce-Secret`` (or an HMAC of the body in ``X-Handoff-Salesforce-Signature``) and
the org id in the body (docs/salesforce.md has the body and the Flow). Checking it and turning it
into events: ``webhooks.py``; ``handoff doctor``: ``doctor.py``; settings and the pure build step:
``build.py``; what they share (SDK import, SOQL quoting, id comparison): ``client.py``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from connector.errors import ConfigError
from integrations.base import (
    Delivery,
    DeliveryError,
    Destination,
    DestinationContext,
    Finding,
    HelpdeskEvent,
    PermanentDeliveryError,
    RateLimiter,
    TicketRef,
    TransientDeliveryError,
    WatchedAdapter,
    error_for_status,
    settings_problems,
    within,
)
from integrations.salesforce.build import (  # the pure half: settings and the Case builder
    COMMENT_MAX_BYTES,
    FEED_MAX_CHARS,
    LOGIN_URLS,
    CaseRequest,
    SalesforceSettings,
    build_case,
    marker_for,
    parse_settings,
    render_html,
    render_text,
)
from integrations.salesforce.client import INSTALL_HINT, sdk, soql
from integrations.salesforce.doctor import doctor_findings
from integrations.salesforce.webhooks import parse_flow, verify_request

__all__ = ["SalesforceDestination", "CaseRequest", "SalesforceSettings", "build_case"]

logger = logging.getLogger(__name__)

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"

# --- the destination ----------------------------------------------------------------------------


class SalesforceDestination(Destination):
    name = "salesforce"
    messenger_channels = ("salesforce", "salesforce_messaging")

    def __init__(self, settings: SalesforceSettings, context: DestinationContext | None = None):
        self.settings = settings
        self.context = context  # unused: Salesforce needs neither the clock nor the store
        # shared through the store by every worker and replica (the context is the runtime)
        self.limiter = RateLimiter(settings.requests_per_minute, shared=context, key=self.name)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._client: Any = None
        self._instance_url = settings.instance_url
        self._user_id = settings.integration_user_id
        self._http: Any = None

    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> list[tuple[str, str]]:
        problems = settings_problems(SalesforceSettings, settings)[1]
        try:
            sdk()
        except ConfigError:
            problems.append(("", INSTALL_HINT))
        return problems

    @classmethod
    def from_config(
        cls, settings: dict[str, Any], context: DestinationContext
    ) -> SalesforceDestination:
        sdk()
        return cls(parse_settings(settings), context)

    # -- the wire ----------------------------------------------------------------------------
    def _session(self) -> Any:
        if self._http is None:
            import requests

            timeout = (min(5.0, self.settings.timeout_seconds), self.settings.timeout_seconds)
            deadline = self.settings.timeout_seconds
            verify, local = self.settings.ca_bundle, self._local

            class BoundedSession(requests.Session):
                """Every request has a timeout and remembers ``Retry-After`` (the SDK drops it)."""

                def request(self, method: str, url: str, **kwargs: Any) -> Any:  # type: ignore[override]
                    kwargs.setdefault("timeout", timeout)
                    if verify:  # per request, so REQUESTS_CA_BUNDLE cannot override it
                        kwargs.setdefault("verify", verify)
                    # timeout_seconds bounds the whole request, not each read (a trickle too)
                    with within(deadline):
                        response = super().request(method, url, **kwargs)
                    local.retry_after = response.headers.get("Retry-After")
                    return response

            self._http = BoundedSession()
            for prefix in ("http://", "https://"):
                self._http.mount(prefix, WatchedAdapter())
        return self._http

    def _token_url(self) -> str:
        base = (
            self._instance_url
            if self.settings.domain == "custom"
            else LOGIN_URLS[self.settings.domain]
        )
        return f"{base}/services/oauth2/token"

    def _authenticate(self) -> str:
        """An access token from the OAuth token endpoint (client credentials or JWT bearer)."""
        import requests

        auth = self.settings.credentials
        if self.settings.auth_mode == "client_credentials":
            form = {
                "grant_type": "client_credentials",
                "client_id": auth["client_id"],
                "client_secret": auth["client_secret"],
            }
        else:
            import jwt  # PyJWT: a dependency of simple-salesforce

            audience = (
                auth.get("audience")
                or LOGIN_URLS["test" if self.settings.domain == "test" else "login"]
            )
            claims = {
                "iss": auth["client_id"],
                "sub": auth["username"],
                "aud": audience,
                "exp": int(time.time()) + 180,
            }
            key = Path(auth["private_key_file"]).read_bytes()
            form = {
                "grant_type": JWT_GRANT,
                "assertion": jwt.encode(claims, key, algorithm="RS256"),
            }
        self.limiter.acquire()
        try:
            response = self._session().post(self._token_url(), data=form)
        except requests.RequestException as exc:
            raise TransientDeliveryError(
                f"salesforce token request failed: {type(exc).__name__}"
            ) from exc
        if response.status_code != 200:
            try:
                answer = response.json()
            except ValueError:
                answer = None
            detail = answer.get("error", "") if isinstance(answer, dict) else ""
            if response.status_code in (400, 401):
                raise PermanentDeliveryError(
                    f"salesforce refused the {self.settings.auth_mode} credentials ({detail or response.status_code}); "
                    "check the connected app and destinations.salesforce.auth",
                    status=response.status_code,
                )
            raise error_for_status(
                response.status_code,
                "salesforce token endpoint failed",
                retry_after=response.headers.get("Retry-After"),
            )
        body = response.json()
        self._instance_url = self._instance_url or body.get("instance_url")
        if not self._user_id and "/" in str(body.get("id", "")):
            self._user_id = str(body["id"]).rstrip("/").rsplit("/", 1)[-1]
        return str(body["access_token"])

    def connect(self, *, fresh: bool = False) -> Any:
        with self._lock:
            if self._client is not None and not fresh:
                return self._client
            if self.settings.auth_mode == "session":
                token = self.settings.credentials["session_id"]
            else:
                token = self._authenticate()
            self._client = sdk().Salesforce(
                instance_url=self._instance_url,
                session_id=token,
                version=self.settings.api_version,
                session=self._session(),
            )
            return self._client

    def _mapped(self, exc: Exception, what: str) -> DeliveryError:
        """One simple-salesforce or requests exception as a delivery error (see the docstring)."""
        import requests

        if isinstance(exc, requests.Timeout):
            return TransientDeliveryError(f"salesforce {what}: timed out")
        if isinstance(exc, requests.RequestException):
            return TransientDeliveryError(f"salesforce {what}: {type(exc).__name__}")
        status = int(getattr(exc, "status", 0) or 0)
        content = getattr(exc, "content", "")
        text = content if isinstance(content, str) else json.dumps(content, default=str)
        message = f"salesforce {what} answered {status}"
        if status == 403 and "REQUEST_LIMIT_EXCEEDED" in text:
            return TransientDeliveryError(
                message + " REQUEST_LIMIT_EXCEEDED",
                status=403,
                response=text[:2000],
                retry_after=60.0,
            )
        if status == 401:
            return PermanentDeliveryError(
                message + ": the session is invalid or expired", status=401, response=text[:2000]
            )
        if status == 300:
            return PermanentDeliveryError(
                message + ": several Cases share the external id", status=300, response=text[:2000]
            )
        return error_for_status(
            status or 500,
            message,
            response=text[:2000],
            retry_after=getattr(self._local, "retry_after", None),
        )

    def call(self, what: str, fn: Any) -> Any:
        """Run ``fn(client)`` under the rate limit; map errors; re-authenticate once on a 401."""
        module = sdk()
        for attempt in (1, 2):
            client = self.connect()
            self.limiter.acquire()
            self._local.retry_after = None
            try:
                return fn(client)
            except module.exceptions.SalesforceExpiredSession as exc:
                if attempt == 1 and self.settings.auth_mode != "session":
                    logger.info("salesforce: session expired, authenticating again")
                    self.connect(fresh=True)
                    continue
                raise self._mapped(exc, what) from exc
            except (
                module.exceptions.SalesforceError,
                OSError,
            ) as exc:  # requests' errors are OSErrors
                raise self._mapped(exc, what) from exc
        raise AssertionError("unreachable")

    def query(self, what: str, statement: str) -> list[dict[str, Any]]:
        """The records a SOQL ``statement`` selects, through ``call``."""
        return list(self.call(what, lambda sf: sf.query(statement))["records"])

    @property
    def instance_url(self) -> str | None:
        """The org's URL: configured, or learnt from the token endpoint once signed in."""
        return self._instance_url

    # -- the verbs -----------------------------------------------------------------------------
    def _ref(self, case_id: str, handoff_id: str) -> TicketRef:
        return TicketRef(
            self.name,
            case_id,
            f"{self._instance_url}/lightning/r/Case/{case_id}/view",
            {"handoff_id": handoff_id},
        )

    def deliver(self, delivery: Delivery) -> TicketRef:
        # the upsert, the note lookup and create, a lookup on a retry, and Omni-Channel routing's
        # lookups, creates (one per skill) and the ready flag: reserved before the first one
        routing = 0
        if self.settings.omni_channel is not None:
            routing = 4 + len(
                build_case(delivery.payload, self.settings, delivery.widget_url).skill_ids
            )
        with self.limiter.reserve(3 + (delivery.attempt > 1) + routing):
            return self._deliver(delivery)

    def _deliver(self, delivery: Delivery) -> TicketRef:
        request = build_case(delivery.payload, self.settings, delivery.widget_url)
        ext = self.settings.external_id_field
        path = f"{ext}/{quote(delivery.handoff_id, safe='')}"
        case_id = delivery.previous.id if delivery.previous else None
        if case_id is None and (delivery.attempt > 1):
            # a retry: the Case may exist already (and an agent may own it): do not write it again
            found = self.query(
                "case lookup", f"SELECT Id FROM Case WHERE {ext} = {soql(delivery.handoff_id)}"
            )
            case_id = found[0]["Id"] if found else None
        if case_id is None:
            response = self.call(
                "case upsert",
                lambda sf: sf.Case.upsert(
                    path, request.fields, raw_response=True, headers=request.headers
                ),
            )
            try:
                case_id = response.json()["id"]
            except (ValueError, KeyError, TypeError):  # 204 before API 46.0: read it back
                case_id = self.call(
                    "case read", lambda sf: sf.Case.get_by_custom_id(ext, delivery.handoff_id)
                )["Id"]
        if self.settings.omni_channel is not None:
            self._route(case_id, request.skill_ids)
        self._ensure_note(case_id, request.note_object, request.note_fields, request.marker)
        logger.info("salesforce: handoff %s is Case %s", delivery.handoff_id, case_id)
        return self._ref(case_id, delivery.handoff_id)

    def _route(self, case_id: str, skill_ids: list[str]) -> None:
        """One PendingServiceRouting with its SkillRequirements, made ready once they are all there."""
        omni = self.settings.omni_channel
        assert omni is not None
        found = self.query(
            "routing lookup",
            "SELECT Id, IsReadyForRouting FROM PendingServiceRouting "
            f"WHERE WorkItemId = {soql(case_id)}",
        )
        if found and found[0].get("IsReadyForRouting"):
            return
        if found:
            psr_id = found[0]["Id"]
        else:
            psr_id = self.call(
                "routing create",
                lambda sf: sf.PendingServiceRouting.create(
                    {
                        "WorkItemId": case_id,
                        "ServiceChannelId": omni.service_channel_id,
                        "RoutingType": "SkillsBased",
                        "RoutingModel": "MostAvailable",
                        "RoutingPriority": omni.routing_priority,
                        "CapacityWeight": omni.capacity_weight,
                        "IsReadyForRouting": False,
                    }
                ),
            )["id"]
        have = {
            r["SkillId"]
            for r in self.query(
                "skill lookup",
                f"SELECT Id, SkillId FROM SkillRequirement WHERE RelatedRecordId = {soql(psr_id)}",
            )
        }
        for skill_id in skill_ids:
            if skill_id not in have:
                self.call(
                    "skill create",
                    lambda sf, s=skill_id: sf.SkillRequirement.create(
                        {"RelatedRecordId": psr_id, "SkillId": s}
                    ),
                )
        self.call(
            "routing ready",
            lambda sf: sf.PendingServiceRouting.update(psr_id, {"IsReadyForRouting": True}),
        )

    def _ensure_note(self, case_id: str, sobject: str, fields: dict[str, Any], marker: str) -> None:
        body_field = "Body" if sobject == "FeedItem" else "CommentBody"
        existing = self.query(
            "note lookup",
            f"SELECT Id, {body_field} FROM {sobject} WHERE ParentId = {soql(case_id)}",
        )
        if any(marker in (r.get(body_field) or "") for r in existing):
            return
        self.call(
            "note create", lambda sf: getattr(sf, sobject).create({"ParentId": case_id, **fields})
        )

    def add_note(self, ref: TicketRef, text: str, *, key: str | None = None) -> None:
        # the marker names the outbox row, so a retry finds its note and a repeat text is new
        marker = marker_for(f"note:{ref.id}:{key}" if key else f"note:{ref.id}:{text}")
        line = [("Handoff connector", text)]
        if self.settings.note_as == "FeedItem":
            fields = {
                "Body": render_html(line, marker, FEED_MAX_CHARS),
                "IsRichText": True,
                "Type": "TextPost",
            }
        else:
            fields = {
                "CommentBody": render_text(line, marker, COMMENT_MAX_BYTES),
                "IsPublished": False,
            }
        with self.limiter.reserve(2):  # the lookup, then the note
            self._ensure_note(ref.id, self.settings.note_as, fields, marker)

    def add_customer_turn(
        self,
        ref: TicketRef,
        text: str,
        *,
        author: str,
        key: str | None = None,
        at: str | None = None,
    ) -> None:
        """A case comment with the customer's words (unpublished: they are the customer's own)."""
        marker = marker_for(f"turn:{ref.id}:{key}" if key else f"turn:{ref.id}:{text}")
        fields = {
            "CommentBody": render_text(
                [(f"{author or 'Customer'} (customer)", text)], marker, COMMENT_MAX_BYTES
            ),
            "IsPublished": False,
        }
        self._ensure_note(ref.id, "CaseComment", fields, marker)

    def update(self, ref: TicketRef, fields: dict[str, Any], *, key: str | None = None) -> None:
        data: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if fields.get("priority") in self.settings.priority_map:
            data["Priority"] = self.settings.priority_map[fields["priority"]]
        team = fields.get("team")
        if team and self.settings.omni_channel is None and team in self.settings.queue_ids:
            data["OwnerId"] = self.settings.queue_ids[team]
            headers["Sforce-Auto-Assign"] = "FALSE"
        for item in ("team", "queue", "priority"):
            if item in self.settings.fields and fields.get(item) is not None:
                data[self.settings.fields[item]] = str(fields[item])
        if data:  # a PATCH with the same values twice is harmless: update is idempotent
            self.call("case update", lambda sf: sf.Case.update(ref.id, data, headers=headers))

    # -- inbound (webhooks.py) ------------------------------------------------------------------
    def verify_webhook(self, headers: dict[str, str], body: bytes) -> None:
        verify_request(self.settings, headers, body)

    def parse_webhook(self, headers: dict[str, str], body: bytes) -> list[HelpdeskEvent]:
        return parse_flow(body, self.settings, self._user_id)

    # -- doctor (doctor.py) ----------------------------------------------------------------------
    def doctor(self) -> list[Finding]:
        return doctor_findings(self)
