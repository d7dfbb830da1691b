"""Zendesk Support through zenpy: one ticket per handoff, its internal note, and agents' answers back.

Three steps, as everywhere: ``build_ticket`` turns the payload into the ticket body (pure), zenpy
sends it, the answer becomes a ``TicketRef``. Set-up in Zendesk and the webhook body are in
``docs/zendesk.md``. The package's other modules: ``build.py`` (settings and the build step:
``build_ticket``, ``render_note``), ``webhooks.py`` (signature, trigger body, events), ``client.py``
(zenpy behind one edge that maps every failure to a delivery error) and ``doctor.py``.

Exactly once. The ticket's ``external_id`` is the handoff id, and ``deliver`` looks it up before
creating, on every attempt: an earlier attempt whose answer was lost (timeout, dropped connection,
a worker crash, an operator's ``outbox retry``, which resets the attempt count) is found and not
repeated. Ticket, fields and the payload note go in one request (a create, or one update of the
customer's own ticket), so finding the ticket means finding the note. A later note carries a
reference (``ref n-<hash of ticket and text>``) and is only added when no comment has it yet.
"""

from __future__ import annotations

import hashlib
import html
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
    settling,
)
from integrations.zendesk.build import (  # the pure half: settings and the ticket builder
    ZendeskSettings,
    build_ticket,
    existing_ticket_id,
    note_reference,
    refused_requester,
    render_note,
    tag,
    update_for_existing,
    without_requester,
)
from integrations.zendesk.client import INSTALL_HINT, edge, zenpy_client, zenpy_objects
from integrations.zendesk.doctor import doctor_findings
from integrations.zendesk.webhooks import WEBHOOK_BODY_TEMPLATE, parse_trigger, verify_signature

__all__ = [
    "WEBHOOK_BODY_TEMPLATE",
    "ZendeskDestination",
    "ZendeskSettings",
    "build_ticket",
    "existing_ticket_id",
    "render_note",
]

logger = logging.getLogger(__name__)


class ZendeskDestination(Destination):
    name = "zendesk"
    messenger_channels = ("zendesk", "zendesk_messaging")

    def __init__(self, settings: ZendeskSettings, context: DestinationContext):
        self.settings = settings
        self.context = context
        # shared through the store by every worker and replica (the context is the runtime)
        self.limiter = RateLimiter(
            settings.requests_per_minute, max_wait=0.5, shared=context, key=self.name
        )
        self._local = threading.local()
        self._teams = {gid: team for team, gid in settings.group_ids.items()}

    # -- configuration ------------------------------------------------------------------------------
    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> list[tuple[str, str]]:
        problems = settings_problems(ZendeskSettings, settings)[1]
        try:
            import zenpy  # noqa: F401
        except ImportError:
            problems.append(("", INSTALL_HINT))
        return problems

    @classmethod
    def from_config(
        cls, settings: dict[str, Any], context: DestinationContext
    ) -> ZendeskDestination:
        parsed, problems = settings_problems(ZendeskSettings, settings)
        try:
            import zenpy  # noqa: F401
        except ImportError:
            problems.append(("", INSTALL_HINT))
        if problems or parsed is None:
            raise config_error(cls.name, problems)
        return cls(parsed, context)

    def _client(self) -> Any:
        """A zenpy client per thread (``client.py`` builds it: no retry adapter, our hooks)."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = zenpy_client(self.settings, self.limiter)
        return client

    def _ref(self, ticket_id: int | str, **extra: Any) -> TicketRef:
        url = f"https://{self.settings.subdomain}.zendesk.com/agent/tickets/{ticket_id}"
        return TicketRef(self.name, str(ticket_id), url, extra)

    # -- verbs --------------------------------------------------------------------------------------
    def find_ticket(self, handoff_id: str) -> int | None:
        """The oldest ticket whose ``external_id`` is this handoff, if any."""
        with edge("ticket lookup"):
            found = [int(t.id) for t in self._client().tickets(external_id=handoff_id)]
        return min(found) if found else None

    def deliver(self, delivery: Delivery) -> TicketRef:
        with self.limiter.reserve(2):  # the lookup, then the create (or the tags and the update)
            return self._deliver(delivery)

    def _deliver(self, delivery: Delivery) -> TicketRef:
        extra = {"handoff_id": delivery.handoff_id}
        if delivery.previous is not None and delivery.previous.destination == self.name:
            return self._ref(delivery.previous.id, **extra)
        found = self.find_ticket(delivery.handoff_id)
        if found is not None:
            logger.info(
                "handoff %s: ticket %s already exists; not creating another",
                delivery.handoff_id,
                found,
            )
            return self._ref(found, **extra)
        ticket = build_ticket(delivery.payload, self.settings, delivery.widget_url)
        existing = existing_ticket_id(delivery.payload, self.settings)
        client = self._client()
        if existing is not None:
            update = update_for_existing(ticket, self.settings.handback_tag)
            try:
                # the tags first: the update sets external_id, after which a retry finds the
                # ticket and stops, so anything after the update might never be done
                self._retag(existing, add=ticket["tags"], remove=[self.settings.handback_tag])
                with edge("ticket update"):
                    client.tickets.update(zenpy_objects({"id": existing, **update}))
                return self._ref(existing, updated_existing=True, **extra)
            except PermanentDeliveryError as exc:
                if exc.status != 404:
                    raise
                logger.warning(
                    "handoff %s: Zendesk ticket %s is gone; creating a new one",
                    delivery.handoff_id,
                    existing,
                )
        try:
            with (
                settling(self.settings.search_settle_seconds, "zendesk ticket"),
                edge("ticket create"),
            ):
                audit = client.tickets.create(zenpy_objects(ticket))
        except PermanentDeliveryError as exc:
            if not refused_requester(exc, ticket):
                raise
            # Zendesk refused the customer's contact data (422: nothing was created): bad
            # customer data must not lose the handoff, so file it without, and say so
            logger.warning(
                "handoff %s: Zendesk refused the requester; creating the ticket without it",
                delivery.handoff_id,
            )
            ticket = without_requester(ticket)
            with (
                settling(self.settings.search_settle_seconds, "zendesk ticket"),
                edge("ticket create"),
            ):
                audit = client.tickets.create(zenpy_objects(ticket))
        return self._ref(audit.ticket.id, **extra)

    def add_note(self, ref: TicketRef, text: str, *, key: str | None = None) -> None:
        # the marker names the outbox row, so a retry finds its note and a repeat text is new
        origin = f"{ref.id}\n{key}" if key else f"{ref.id}\n{text}"
        reference = note_reference("n-" + hashlib.sha256(origin.encode()).hexdigest()[:20])
        client = self._client()
        with self.limiter.reserve(2), edge("comment list"):
            for comment in client.tickets.comments(ticket=int(ref.id)):
                if any(
                    reference in (getattr(comment, f, None) or "")
                    for f in ("html_body", "body", "plain_body")
                ):
                    return  # an earlier attempt added it; its answer was lost
        body = f"<p>{html.escape(text)}</p>\n<p><small>{html.escape(reference)}</small></p>"
        with edge("note"):
            client.tickets.update(
                zenpy_objects({"id": int(ref.id), "comment": {"html_body": body, "public": False}})
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
        """A public comment authored by the ticket's requester, as if they had written in Zendesk.

        No marker (the customer may see it): a retry is recognised by the newest comment already
        being the requester's with exactly this text."""
        client = self._client()
        with edge("ticket show"):
            requester = getattr(client.tickets(id=int(ref.id)), "requester_id", None)
        with edge("comment list"):
            comments = list(client.tickets.comments(ticket=int(ref.id)))
        if (
            comments
            and getattr(comments[-1], "author_id", None) == requester
            and ((getattr(comments[-1], "body", None) or "").strip() == text.strip())
        ):
            return  # an earlier attempt landed; its answer was lost
        comment: dict[str, Any] = {"body": text, "public": True}
        if requester:
            comment["author_id"] = requester
        with edge("customer turn"):
            client.tickets.update(zenpy_objects({"id": int(ref.id), "comment": comment}))

    def update(self, ref: TicketRef, fields: dict[str, Any], *, key: str | None = None) -> None:
        change: dict[str, Any] = {}
        if fields.get("priority") in ("low", "normal", "high", "urgent"):
            change["priority"] = fields["priority"]
        team = fields.get("team")
        if team and team in self.settings.group_ids:
            change["group_id"] = self.settings.group_ids[team]
        elif team:
            logger.warning("zendesk: no group id for team %r; the group is left as it is", team)
        routed = bool(team) and team in self.settings.group_ids
        with self.limiter.reserve(
            4 if routed else 1
        ):  # the update, then the tags: list, remove, add
            if change:
                with edge("ticket update"):
                    self._client().tickets.update(zenpy_objects({"id": int(ref.id), **change}))
            if routed:  # a reroute replaces the team tag: the old team's goes
                new = tag("handoff_team", str(team))
                self._retag(int(ref.id), add=[new], remove_prefix="handoff_team_", keep=new)

    def _retag(
        self,
        ticket_id: int,
        *,
        add: list[str],
        remove: list[str] | None = None,
        remove_prefix: str | None = None,
        keep: str | None = None,
    ) -> None:
        """Change a ticket's tags through the ticket tags endpoints (Add Tags, Remove Tags):
        remove ``remove`` and, when given, every tag starting with ``remove_prefix`` but ``keep``;
        then add ``add``. Both are idempotent, so a retry is harmless."""
        client = self._client()
        stale = list(remove or [])
        if remove_prefix:
            with edge("tag list"):
                current = [str(t) for t in client.tickets.tags(ticket_id)]
            stale += [t for t in current if t.startswith(remove_prefix) and t != keep]
        if stale:
            with edge("tag remove"):
                client.tickets.delete_tags(ticket_id, stale)
        if add:
            with edge("tag add"):
                client.tickets.add_tags(ticket_id, add)

    # -- webhooks (webhooks.py) -------------------------------------------------------------------------
    def verify_webhook(self, headers: dict[str, str], body: bytes) -> None:
        window = self.context.replay_window_seconds
        verify_signature(
            self.settings.webhook_secret, headers, body, now=self.context.now(), window=window
        )

    def parse_webhook(self, headers: dict[str, str], body: bytes) -> list[HelpdeskEvent]:
        return parse_trigger(
            body,
            api_email=self.settings.email,
            handback_tag=self.settings.handback_tag,
            teams=self._teams,
        )

    # -- doctor (doctor.py) --------------------------------------------------------------------------
    def doctor(self) -> list[Finding]:
        return doctor_findings(self.settings, self._client())
