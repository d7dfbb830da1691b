"""ServiceNow Customer Service Management through the Table API: one case per handoff, its work
note, and agents' actions back.

Three steps, as everywhere: ``build_case`` turns the payload into the case record (pure), the Table
API creates it (``client.py``), the answer becomes a ``TicketRef``. Set-up in ServiceNow and the
Business Rule's body are in ``docs/servicenow.md``.

Exactly once. The case's ``correlation_id`` is the handoff id and ``deliver`` looks it up before
creating, on every attempt: an earlier attempt whose answer was lost is found and not repeated.
The case and its work note go in one request, so finding the case means finding the note. A later
note carries a reference (``ref n-<hash of case and outbox key>``) and is only added when the
case's work notes do not have it yet.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

from integrations.base import (
    Delivery,
    Destination,
    DestinationContext,
    Finding,
    HelpdeskEvent,
    PermanentDeliveryError,
    RateLimiter,
    TicketRef,
    config_error,
    settings_problems,
)
from integrations.servicenow.build import (
    ServiceNowSettings,
    build_case,
    case_changes,
    encoded_query,
    note_reference,
    plain,
)
from integrations.servicenow.client import TableClient, record_url
from integrations.servicenow.doctor import doctor_findings
from integrations.servicenow.webhooks import parse_event, verify_signature

__all__ = ["ServiceNowDestination", "ServiceNowSettings", "build_case"]

logger = logging.getLogger(__name__)


class ServiceNowDestination(Destination):
    name = "servicenow"

    def __init__(self, settings: ServiceNowSettings, context: DestinationContext):
        self.settings = settings
        self.context = context
        self.limiter = RateLimiter(settings.requests_per_minute, max_wait=0.5)
        self._local = threading.local()
        self._teams = {sys_id: team for team, sys_id in settings.assignment_groups.items()}
        self.path = f"/api/now/table/{settings.table}"

    # -- configuration ------------------------------------------------------------------------------
    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> list[tuple[str, str]]:
        return settings_problems(ServiceNowSettings, settings)[1]

    @classmethod
    def from_config(
        cls, settings: dict[str, Any], context: DestinationContext
    ) -> ServiceNowDestination:
        parsed, problems = settings_problems(ServiceNowSettings, settings)
        if problems or parsed is None:
            raise config_error(cls.name, problems)
        return cls(parsed, context)

    def client(self) -> TableClient:
        """This thread's Table API client (a requests session is not shared between threads)."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = TableClient(self.settings, self.limiter, self.context.now)
        return client

    def _ref(self, sys_id: str, **extra: Any) -> TicketRef:
        return TicketRef(self.name, sys_id, record_url(self.settings, sys_id), extra)

    # -- verbs --------------------------------------------------------------------------------------
    def find_case(self, handoff_id: str) -> dict[str, Any] | None:
        """The oldest case whose ``correlation_id`` is this handoff, if any."""
        try:
            query = encoded_query(correlation_id=handoff_id)
        except ValueError as exc:
            raise PermanentDeliveryError(str(exc)) from exc
        found = self.client().call("case lookup", "GET", self.path, params={
            "sysparm_query": query, "sysparm_fields": "sys_id,number", "sysparm_limit": "1"})  # fmt: skip
        rows = found.get("result") or []
        return rows[0] if rows else None

    def find_contact(self, email: str) -> dict[str, Any] | None:
        """The CSM contact with this e-mail (its sys_id and account), or None."""
        try:
            query = encoded_query(email=email)
        except ValueError:
            return None
        found = self.client().call("contact lookup", "GET", "/api/now/table/customer_contact", params={
            "sysparm_query": query, "sysparm_fields": "sys_id,account", "sysparm_limit": "1",
            "sysparm_exclude_reference_link": "true"})  # fmt: skip
        rows = found.get("result") or []
        return rows[0] if rows else None

    def deliver(self, delivery: Delivery) -> TicketRef:
        extra = {"handoff_id": delivery.handoff_id}
        if delivery.previous is not None and delivery.previous.destination == self.name:
            return self._ref(delivery.previous.id, **delivery.previous.extra)
        found = self.find_case(delivery.handoff_id)
        if found is not None:
            logger.info("handoff %s: case %s already exists; not creating another",
                        delivery.handoff_id, found.get("number"))  # fmt: skip
            return self._ref(str(found["sys_id"]), number=found.get("number"), **extra)
        case = build_case(delivery.payload, self.settings, delivery.widget_url)
        email = delivery.payload.customer.email
        if self.settings.contact_lookup and email:
            contact = self.find_contact(email)
            if contact is not None:
                case["contact"] = contact["sys_id"]
                if contact.get("account"):
                    case["account"] = contact["account"]
        created = self.client().call("case create", "POST", self.path, json=case, params={
            "sysparm_fields": "sys_id,number", "sysparm_exclude_reference_link": "true"})  # fmt: skip
        result = created.get("result") or {}
        if not result.get("sys_id"):
            raise PermanentDeliveryError("ServiceNow case create: no sys_id in the answer")
        return self._ref(str(result["sys_id"]), number=result.get("number"), **extra)

    def add_note(self, ref: TicketRef, text: str, *, key: str | None = None) -> None:
        # the marker names the outbox row, so a retry finds its note and a repeat text is new
        origin = f"{ref.id}\n{key}" if key else f"{ref.id}\n{text}"
        reference = note_reference("n-" + hashlib.sha256(origin.encode()).hexdigest()[:20])
        path = f"{self.path}/{ref.id}"
        current = self.client().call("work note lookup", "GET", path, params={
            "sysparm_fields": "work_notes", "sysparm_display_value": "true"})  # fmt: skip
        if reference in str((current.get("result") or {}).get("work_notes") or ""):
            return  # an earlier attempt added it; its answer was lost
        self.client().call("work note", "PATCH", path, json={"work_notes": f"{plain(text)}\n\n{reference}"},
                           params={"sysparm_fields": "sys_id"})  # fmt: skip

    def update(self, ref: TicketRef, fields: dict[str, Any], *, key: str | None = None) -> None:
        change = case_changes(fields, self.settings)
        if fields.get("team") and "assignment_group" not in change:
            logger.warning(
                "servicenow: no assignment group for team %r; left as it is", fields["team"]
            )
        if change:  # setting the same values again is harmless, so a retry needs no marker
            self.client().call("case update", "PATCH", f"{self.path}/{ref.id}", json=change,
                               params={"sysparm_fields": "sys_id"})  # fmt: skip

    # -- webhooks (webhooks.py) -------------------------------------------------------------------
    def verify_webhook(self, headers: dict[str, str], body: bytes) -> None:
        verify_signature(self.settings.webhook_secret, headers, body, now=self.context.now(),
                         window=self.context.replay_window_seconds)  # fmt: skip

    def parse_webhook(self, headers: dict[str, str], body: bytes) -> list[HelpdeskEvent]:
        return parse_event(body, api_user=self.settings.api_user, teams=self._teams)

    # -- doctor (doctor.py) -----------------------------------------------------------------------
    def doctor(self) -> list[Finding]:
        return doctor_findings(self.settings, self.client())
