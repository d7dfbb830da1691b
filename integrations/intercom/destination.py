"""Intercom (python-intercom 5.x, REST API version 2.14): where the handoff lands and what comes back.

Which object, by one rule: when the bot's ``conversation.channel`` is one of ``conversation_channels``
(default ``intercom``), ``conversation.id`` *is* the Intercom conversation id, and the handoff becomes
an internal note (the rendered payload), an assignment to the routed team (or ``assignee_admin_id``)
and conversation custom attributes. Any other channel gets an Intercom ticket of ``ticket_type_id``.

Exactly once without an external id: Intercom has none on notes, so each completed step is recorded
in the returned ``TicketRef.extra``, and a retry (attempt > 1, or after an earlier ``previous``)
first reads the conversation and skips what is already there: a note carrying the handoff's marker
(``handoff:<id>``) by our admin, the assignee, the attribute values. A ticket retry searches tickets
by the handoff id ticket attribute before creating one.

Errors are mapped at the edge (``call``): ``ApiError.status_code`` through ``error_for_status``
(a 429's ``Retry-After``, or else ``X-RateLimit-Reset``, becomes ``retry_after``), httpx timeouts and
transport errors are transient. The SDK's own retries stay off; the outbox owns the retry policy.
Each request is over ``timeout_seconds`` after it began, however slowly Intercom answers: the SDK's
httpx client sends through ``client.py``'s ``DeadlineTransport``.

The package's other modules: the pure build step and settings are ``build.py``, the webhook
signature and events ``webhooks.py``, ``handoff doctor``'s checks ``doctor.py``, the raw
responses both this module and the doctor read, and the SDK's httpx client with its total
deadline, ``client.py``.
"""

from __future__ import annotations

import html
import json
import logging
import threading
from typing import Any
from urllib.parse import quote

from connector.errors import ConfigError
from connector.schemas import HandoffPayload
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
    config_error,
    error_for_status,
    settings_problems,
    settling,
    valid_email,
)
from integrations.intercom.build import (
    INSTALL_HINT,
    ITEMS,
    IntercomSettings,
    assignment_request,
    epoch_seconds,
    is_intercom_conversation,
    later_note_body,
    mapped,
    note_landed,
    note_marker,
    note_request,
    payload_items,
    render_note,
    steps_found,
    ticket_contact,
    turn_landed,
)
from integrations.intercom.client import Raw, deadline_client, dump
from integrations.intercom.doctor import doctor_findings
from integrations.intercom.webhooks import (
    handoff_id_of,
    parse_notification,
    verify_signature,
    webhook_events,
)

logger = logging.getLogger(__name__)

API_VERSION = "2.14"


class IntercomDestination(Destination):
    name = "intercom"
    messenger_channels = ("intercom",)

    def __init__(self, settings: IntercomSettings, context: DestinationContext):
        self.settings = settings
        self.context = context
        self._client: Any = None
        self._http: Any = None
        self._lock = threading.Lock()
        self._ticket_attribute_ids: dict[str, str] | None = None
        # shared through the store by every worker and replica (the context is the runtime)
        self.limiter = RateLimiter(
            settings.requests_per_minute, max_wait=1.0, shared=context, key=self.name
        )

    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> list[tuple[str, str]]:
        problems = settings_problems(IntercomSettings, settings)[1]
        try:
            import intercom  # noqa: F401
        except ImportError:
            problems.append(("", INSTALL_HINT))
        return problems

    @classmethod
    def from_config(
        cls, settings: dict[str, Any], context: DestinationContext
    ) -> IntercomDestination:
        parsed, problems = settings_problems(IntercomSettings, settings)
        if parsed is not None:
            teams = context.team_names
            problems += [
                (f"team_ids.{team}", "not one of routing.teams")
                for team in parsed.team_ids
                if team not in teams
            ]
        if problems or parsed is None:
            raise config_error(cls.name, problems)
        try:
            import intercom  # noqa: F401
        except ImportError as exc:
            raise ConfigError([("destinations.intercom", INSTALL_HINT)]) from exc
        return cls(parsed, context)

    # -- the SDK, lazily ------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        with self._lock:  # worker threads share one client (and its connection pool)
            return self._client or self._connect()

    def _connect(self) -> Any:
        if self._client is None:
            from intercom import Intercom

            # timeout_seconds bounds each request as a whole, a trickled answer too
            self._http = deadline_client(self.settings.timeout_seconds, self.settings.base_url)
            self._client = Intercom(
                token=self.settings.token,
                base_url=self.settings.base_url.rstrip("/"),
                headers={"Intercom-Version": API_VERSION},
                httpx_client=self._http,
            )
        return self._client

    @property
    def raw(self) -> Raw:
        """The same client, answering with raw responses (``dump`` reads their JSON)."""
        return Raw(self.client)

    def call(self, what: str, fn: Any) -> Any:
        """One request: rate-limited, with every SDK and httpx failure mapped to a DeliveryError."""
        import httpx
        from intercom.core.api_error import ApiError

        self.limiter.acquire()
        try:
            return fn()
        except ApiError as exc:
            raise self._api_error(what, exc) from exc
        except httpx.TimeoutException as exc:
            raise TransientDeliveryError(
                f"intercom {what}: no complete answer within {self.settings.timeout_seconds:g}s "
                f"({type(exc).__name__})"
            ) from exc
        except (httpx.LocalProtocolError, httpx.UnsupportedProtocol) as exc:
            raise PermanentDeliveryError(
                f"intercom {what}: cannot send the request: {exc}"
            ) from exc
        except httpx.TransportError as exc:
            raise TransientDeliveryError(f"intercom {what}: {type(exc).__name__}: {exc}") from exc

    def _api_error(self, what: str, exc: Any) -> DeliveryError:
        headers = {str(k).lower(): str(v) for k, v in (exc.headers or {}).items()}
        body = exc.body if isinstance(exc.body, str) else json.dumps(exc.body, default=str)
        status = exc.status_code or 0
        error = error_for_status(
            status or 500,
            f"intercom {what} answered {status or 'without a status'}",
            response=(body or "")[:2000],
            retry_after=headers.get("retry-after"),
        )
        reset = headers.get("x-ratelimit-reset", "")
        if status == 429 and error.retry_after is None and reset.isdigit():
            error.retry_after = max(1.0, int(reset) - self.context.now().timestamp())
        return error

    # -- deliver ----------------------------------------------------------------------------------
    def deliver(self, delivery: Delivery) -> TicketRef:
        retry = delivery.attempt > 1 or delivery.previous is not None
        if is_intercom_conversation(delivery.payload, self.settings.conversation_channels):
            with self.limiter.reserve(3 + retry):  # (a read,) the note, the assignment, attributes
                return self._deliver_conversation(delivery)
        # (the type and the search,) (finding or creating the contact,) the create
        customer = delivery.payload.customer
        contact = 0 if valid_email(customer.email or "") or not customer.id else 3
        with self.limiter.reserve(1 + 2 * retry + contact):
            return self._deliver_ticket(delivery)

    def _target(self, payload: HandoffPayload) -> tuple[str, str] | None:
        team = self.settings.team_ids.get(payload.routing.team or "")
        if team:
            return ("team", team)
        return (
            ("admin", self.settings.assignee_admin_id) if self.settings.assignee_admin_id else None
        )

    def _deliver_conversation(self, delivery: Delivery) -> TicketRef:
        payload, s = delivery.payload, self.settings
        conversation_id = payload.conversation_id
        if not conversation_id.isdigit():
            raise PermanentDeliveryError(
                f"conversation {conversation_id!r} is on channel {payload.customer.channel!r} but is not an "
                "Intercom conversation id (digits); fix the bot's conversation.id or conversation.channel"
            )
        target = self._target(payload)
        attributes = mapped(payload_items(payload, delivery.widget_url), s.conversation_attributes)
        done: dict[str, Any] = {}
        if (
            delivery.previous is not None
            and delivery.previous.extra.get("handoff_id") == delivery.handoff_id
        ):
            done.update(delivery.previous.extra)
        if delivery.attempt > 1 or delivery.previous is not None:
            # an earlier attempt may have landed without us learning it: look before doing it again
            found = self.call(
                "read conversation", lambda: self.raw.conversations.find(conversation_id)
            )
            done.update(
                steps_found(
                    dump(found),
                    handoff_id=delivery.handoff_id,
                    admin_id=s.admin_id,
                    target=target,
                    attributes=attributes,
                )
            )
        if "note_part_id" not in done:
            body = render_note(payload, delivery.widget_url)
            result = dump(
                self.call(
                    "post note",
                    lambda: self.raw.conversations.reply(
                        conversation_id, request=note_request(s.admin_id, body)
                    ),
                )
            )
            posted = steps_found(
                result,
                handoff_id=delivery.handoff_id,
                admin_id=s.admin_id,
                target=None,
                attributes={},
            )
            done["note_part_id"] = posted.get("note_part_id", "")
        if target is not None and done.get("assigned") != f"{target[0]}:{target[1]}":
            self.call(
                "assign conversation",
                lambda: self.client.conversations.manage(
                    conversation_id=conversation_id, request=assignment_request(s.admin_id, target)
                ),
            )
            done["assigned"] = f"{target[0]}:{target[1]}"
        if attributes and not done.get("attributes_set"):
            self.call(
                "set attributes",
                lambda: self.client.conversations.update(
                    conversation_id=conversation_id, custom_attributes=attributes
                ),
            )
            done["attributes_set"] = True
        extra = {**done, "kind": "conversation", "handoff_id": delivery.handoff_id}
        return TicketRef(self.name, conversation_id, None, extra)

    def _deliver_ticket(self, delivery: Delivery) -> TicketRef:
        payload, s = delivery.payload, self.settings
        previous = delivery.previous
        if previous is not None and previous.extra.get("handoff_id") == delivery.handoff_id:
            return previous
        if not s.ticket_type_id:
            raise PermanentDeliveryError(
                "the conversation is not an Intercom conversation and "
                "destinations.intercom.ticket_type_id is not set: nowhere to file it"
            )
        if delivery.attempt > 1:
            existing = self._find_ticket(delivery.handoff_id)
            if existing is not None:
                return self._ticket_ref(existing, delivery.handoff_id)
        attributes = mapped(payload_items(payload, delivery.widget_url), s.ticket_attributes)
        target = self._target(payload)
        kwargs: dict[str, Any] = {
            "ticket_type_id": s.ticket_type_id,
            "contacts": [self._ticket_contact(payload)],
            "request_options": {"additional_body_parameters": {"ticket_attributes": attributes}},
        }
        if target is not None:
            kwargs["assignment"] = {f"{target[0]}_assignee_id": target[1]}
        with settling(self.settings.search_settle_seconds, "intercom ticket"):
            ticket = dump(self.call("create ticket", lambda: self.raw.tickets.create(**kwargs)))
        if not ticket.get("id"):
            raise TransientDeliveryError("intercom create ticket answered without a ticket id")
        return self._ticket_ref(ticket, delivery.handoff_id)

    def _ticket_contact(self, payload: HandoffPayload) -> dict[str, str]:
        """The ticket's contact: an e-mail as it is (Intercom creates a contact for a new one); an
        ``external_id`` found, or else created, first: Intercom creates none for an unknown one."""
        wanted = ticket_contact(payload)
        external_id = wanted.get("external_id")
        if external_id is None:
            return wanted
        from intercom.core.api_error import ApiError

        def unless(status: int, fn: Any) -> Any:
            try:
                return fn()
            except ApiError as exc:
                if exc.status_code == status:
                    return None
                raise

        def find() -> dict[str, Any]:  # the SDK puts the id in the path as it is
            path_id = quote(external_id, safe="")
            return dump(
                self.call(
                    "find contact",
                    lambda: unless(
                        404, lambda: self.raw.contacts.show_contact_by_external_id(path_id)
                    ),
                )
            )

        contact = find()
        if not contact.get("id"):
            request: dict[str, Any] = {"role": "user", "external_id": external_id}
            if payload.customer.name:
                request["name"] = payload.customer.name
            # a create whose answer was lost leaves the contact for the retry to find; a create
            # refused because another delivery made the contact first (409) finds it now
            create = lambda: self.raw.contacts.create(request=request)  # noqa: E731
            contact = dump(self.call("create contact", lambda: unless(409, create))) or find()
        if not contact.get("id"):
            raise TransientDeliveryError(f"intercom has no contact with external_id {external_id}")
        return {"id": str(contact["id"])}

    def _ticket_ref(self, ticket: dict[str, Any], handoff_id: str) -> TicketRef:
        return TicketRef(
            self.name,
            str(ticket["id"]),
            None,
            {
                "kind": "ticket",
                "handoff_id": handoff_id,
                "ticket_id": str(ticket["id"]),
                "ticket_number": str(ticket.get("ticket_id") or ""),
            },
        )

    def _find_ticket(self, handoff_id: str) -> dict[str, Any] | None:
        if self._ticket_attribute_ids is None:
            types = self.call("list ticket types", lambda: self.raw.ticket_types.list())
            found: dict[str, Any] = next(
                (
                    t
                    for t in dump(types).get("data") or []
                    if str(t.get("id")) == self.settings.ticket_type_id
                ),
                {},
            )
            self._ticket_attribute_ids = {
                a["name"]: str(a["id"])
                for a in (found.get("ticket_type_attributes") or {}).get("data") or []
            }
        attribute_id = self._ticket_attribute_ids.get(self.settings.ticket_attributes["handoff_id"])
        if attribute_id is None:
            raise PermanentDeliveryError(
                f"ticket type {self.settings.ticket_type_id} has no attribute "
                f"{self.settings.ticket_attributes['handoff_id']!r}; run `handoff doctor`"
            )
        query = {"field": f"ticket_attribute.{attribute_id}", "operator": "=", "value": handoff_id}
        page = self.call("search tickets", lambda: self.client.tickets.search(query=query))
        ticket = next((t for t in page.items or [] if t is not None), None)
        return {"id": ticket.id, "ticket_id": ticket.ticket_id} if ticket is not None else None

    # -- later notes and updates ----------------------------------------------------------------
    def add_note(self, ref: TicketRef, text: str, *, key: str | None = None) -> None:
        # Intercom parts take no external id: each note carries a reference made from ``key``,
        # and a retry looks for it among the newest parts (others may have written since)
        reference = note_marker(ref.id, key, text)
        request = note_request(self.settings.admin_id, later_note_body(text, reference))
        with self.limiter.reserve(2):  # the read, then the note
            current = self._read(ref)
            if note_landed(current, self.settings.admin_id, reference):
                return  # an earlier attempt landed; its answer was lost
            self._reply(ref, "note", request)

    def _read(self, ref: TicketRef) -> dict[str, Any]:
        if ref.extra.get("kind") == "ticket":
            return dump(self.call("read ticket", lambda: self.raw.tickets.get(ref.id)))
        return dump(self.call("read conversation", lambda: self.raw.conversations.find(ref.id)))

    def _reply(self, ref: TicketRef, what: str, request: dict[str, Any]) -> None:
        if ref.extra.get("kind") == "ticket":
            self.call(
                f"post ticket {what}", lambda: self.client.tickets.reply(ref.id, request=request)
            )
        else:
            self.call(
                f"post {what}",
                lambda: self.client.conversations.reply(conversation_id=ref.id, request=request),
            )

    def add_customer_turn(
        self,
        ref: TicketRef,
        text: str,
        *,
        author: str,
        key: str | None = None,
        at: str | None = None,
    ) -> None:
        """A reply as the contact, dated when the customer said it (``created_at``): no marker
        (it reads as the customer's words), so a retry looks among the newest parts for the
        contact's reply with this text and this time."""
        with self.limiter.reserve(2):  # the read, then the reply
            current = self._read(ref)
            contacts = (current.get("contacts") or {}).get("contacts") or []
            contact = (
                str(contacts[0].get("id") or "")
                if contacts and isinstance(contacts[0], dict)
                else ""
            )
            if not contact:
                raise PermanentDeliveryError(f"intercom {ref.id} has no contact to reply as")
            created_at = epoch_seconds(at)
            if turn_landed(current, contact, text, created_at):
                return  # an earlier attempt landed
            request: dict[str, Any] = {
                "message_type": "comment",
                "type": "user",
                "intercom_user_id": contact,
                "body": html.escape(text),
            }
            if created_at is not None:
                request["created_at"] = created_at
            self._reply(ref, "reply", request)

    def update(self, ref: TicketRef, fields: dict[str, Any], *, key: str | None = None) -> None:
        """``team`` reassigns (when it has an Intercom team id); mapped items become attributes."""
        s = self.settings
        team_id = s.team_ids.get(str(fields.get("team") or ""))
        items = {k: v for k, v in fields.items() if k in ITEMS and v is not None}
        if ref.extra.get("kind") == "ticket":
            attributes = mapped(items, s.ticket_attributes)
            if attributes or team_id:
                extra: dict[str, Any] = {"ticket_attributes": attributes} if attributes else {}
                if team_id:
                    extra.update(admin_id=int(s.admin_id), assignee_id=team_id)
                self.call("update ticket", lambda: self.client.tickets.update(ref.id, **extra))
            return
        if team_id:
            self.call(
                "assign conversation",
                lambda: self.client.conversations.manage(
                    conversation_id=ref.id,
                    request=assignment_request(s.admin_id, ("team", team_id)),
                ),
            )
        attributes = mapped(items, s.conversation_attributes)
        if attributes:
            self.call(
                "set attributes",
                lambda: self.client.conversations.update(
                    conversation_id=ref.id, custom_attributes=attributes
                ),
            )

    # -- webhooks (webhooks.py) ---------------------------------------------------------------------
    def verify_webhook(self, headers: dict[str, str], body: bytes) -> None:
        verify_signature(self.settings.client_secret, headers, body)

    def parse_webhook(self, headers: dict[str, str], body: bytes) -> list[HelpdeskEvent]:
        notification = parse_notification(body)
        events = webhook_events(notification, self.settings, self._routed_team(notification))
        logger.info(
            "intercom webhook %s %s: %d event(s)",
            notification.get("topic"),
            notification.get("id"),
            len(events),
        )
        return events

    def _routed_team(self, notification: dict[str, Any]) -> str | None:
        handoff_id = handoff_id_of((notification.get("data") or {}).get("item"), self.settings)
        if not handoff_id:
            return None
        return self.context.handoff_team(str(handoff_id))

    # -- doctor (doctor.py) ---------------------------------------------------------------------------
    def doctor(self) -> list[Finding]:
        return doctor_findings(self)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
