"""Freshdesk through API v2: one ticket per handoff, the handoff as a private note, and agents'
actions back.

Three steps, as everywhere: ``build_ticket`` turns the payload into the ticket body (pure), the API
creates it (``client.py``), the answer becomes a ``TicketRef``. Set-up in Freshdesk and the
automation rules are in ``docs/freshdesk.md``.

Exactly once. The ticket carries the tag ``handoff-<id>`` (and the ``handoff_id`` custom field when
mapped); ``deliver`` lists the requester's tickets updated since the handoff was made and looks for
it before creating, on every attempt (the list is read from the database, not from the search
index, which lags behind). Ticket and note are two requests, so a found ticket gets its note when
no note carries the handoff's reference yet. A later note carries ``ref n-<hash of ticket and
outbox key>`` and is only added when no conversation has it.
"""

from __future__ import annotations

import hashlib
import html
import logging
import threading
from datetime import timedelta
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
from integrations.freshdesk.build import (
    FreshdeskSettings,
    build_ticket,
    is_handoff_ticket,
    note_reference,
    render_note,
    requester_email,
    ticket_changes,
)
from integrations.freshdesk.client import ApiClient, Window
from integrations.freshdesk.doctor import doctor_findings
from integrations.freshdesk.webhooks import WEBHOOK_BODY_TEMPLATE, parse_automation, verify_secret

__all__ = ["WEBHOOK_BODY_TEMPLATE", "FreshdeskDestination", "FreshdeskSettings", "build_ticket"]

logger = logging.getLogger(__name__)

# what the ticket list answers (400) for a requester e-mail with no contact
NO_CONTACT = "There is no contact matching the given email"


class FreshdeskDestination(Destination):
    name = "freshdesk"

    def __init__(self, settings: FreshdeskSettings, context: DestinationContext):
        self.settings = settings
        self.context = context
        self.limiter = RateLimiter(settings.requests_per_minute, max_wait=0.5)
        self.window = Window(context.now)  # shared by every thread: the budget is the account's
        self._local = threading.local()

    # -- configuration ------------------------------------------------------------------------------
    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> list[tuple[str, str]]:
        return settings_problems(FreshdeskSettings, settings)[1]

    @classmethod
    def from_config(
        cls, settings: dict[str, Any], context: DestinationContext
    ) -> FreshdeskDestination:
        parsed, problems = settings_problems(FreshdeskSettings, settings)
        if problems or parsed is None:
            raise config_error(cls.name, problems)
        return cls(parsed, context)

    def client(self) -> ApiClient:
        """This thread's API client (a requests session is not shared between threads)."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = ApiClient(self.settings, self.limiter, self.window)
        return client

    def _ref(self, ticket_id: int | str, **extra: Any) -> TicketRef:
        return TicketRef(self.name, str(ticket_id), f"{self.settings.base_url.rstrip('/')}/a/tickets/{ticket_id}",
                         extra)  # fmt: skip

    # -- verbs --------------------------------------------------------------------------------------
    def find_ticket(self, delivery: Delivery) -> int | None:
        """The oldest ticket of this handoff among the requester's tickets updated since it was made."""
        since = delivery.payload.created_at - timedelta(minutes=5)  # clocks differ a little
        try:
            listed = self.client().pages("ticket lookup", "/api/v2/tickets", {
                "email": requester_email(delivery.payload, self.settings),
                "updated_since": since.strftime("%Y-%m-%dT%H:%M:%SZ")})  # fmt: skip
        except PermanentDeliveryError as exc:
            if exc.status == 400 and NO_CONTACT in (exc.response or ""):
                return None  # Freshdesk has never seen this requester: there is no ticket yet
            raise
        found = [
            int(t["id"]) for t in listed if is_handoff_ticket(t, delivery.handoff_id, self.settings)
        ]
        return min(found) if found else None

    def _has_note(self, ticket_id: int | str, reference: str) -> bool:
        conversations = self.client().pages(
            "conversation list", f"/api/v2/tickets/{ticket_id}/conversations", {}
        )
        return any(reference in str(c.get("body") or "") for c in conversations)

    def _note(self, ticket_id: int | str, body: str) -> None:
        self.client().call("note", "POST", f"/api/v2/tickets/{ticket_id}/notes",
                           json={"body": body, "private": True})  # fmt: skip

    def deliver(self, delivery: Delivery) -> TicketRef:
        extra = {"handoff_id": delivery.handoff_id}
        if delivery.previous is not None and delivery.previous.destination == self.name:
            return self._ref(delivery.previous.id, **extra)
        note = render_note(delivery.payload, delivery.widget_url)
        found = self.find_ticket(delivery)
        if found is not None:
            logger.info(
                "handoff %s: ticket %s already exists; not creating another",
                delivery.handoff_id,
                found,
            )
            if not self._has_note(found, html.escape(note_reference(delivery.handoff_id))):
                self._note(found, note)  # the earlier attempt stopped between ticket and note
            return self._ref(found, **extra)
        ticket = build_ticket(delivery.payload, self.settings, delivery.widget_url)
        created = self.client().call("ticket create", "POST", "/api/v2/tickets", json=ticket)
        if not created.get("id"):
            raise PermanentDeliveryError("Freshdesk ticket create: no id in the answer")
        self._note(created["id"], note)
        return self._ref(created["id"], **extra)

    def add_note(self, ref: TicketRef, text: str, *, key: str | None = None) -> None:
        # the marker names the outbox row, so a retry finds its note and a repeat text is new
        origin = f"{ref.id}\n{key}" if key else f"{ref.id}\n{text}"
        reference = note_reference("n-" + hashlib.sha256(origin.encode()).hexdigest()[:20])
        if self._has_note(ref.id, reference):
            return  # an earlier attempt added it; its answer was lost
        self._note(
            ref.id, f"<p>{html.escape(text)}</p>\n<p><small>{html.escape(reference)}</small></p>"
        )

    def update(self, ref: TicketRef, fields: dict[str, Any], *, key: str | None = None) -> None:
        change = ticket_changes(fields, self.settings)
        if fields.get("team") and "group_id" not in change:
            logger.warning(
                "freshdesk: no group id for team %r; the group is left as it is", fields["team"]
            )
        if change:  # the same values again are harmless, so a retry needs no marker
            self.client().call("ticket update", "PUT", f"/api/v2/tickets/{ref.id}", json=change)

    # -- webhooks (webhooks.py) -------------------------------------------------------------------
    def verify_webhook(self, headers: dict[str, str], body: bytes) -> None:
        verify_secret(self.settings.webhook_secret, headers)

    def parse_webhook(self, headers: dict[str, str], body: bytes) -> list[HelpdeskEvent]:
        return parse_automation(body, api_agent_email=self.settings.api_agent_email)

    # -- doctor (doctor.py) -----------------------------------------------------------------------
    def doctor(self) -> list[Finding]:
        return doctor_findings(self.settings, self.client())
