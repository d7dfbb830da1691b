"""Zendesk Support through zenpy: one ticket per handoff, its internal note, and agents' answers back.

Three steps, as everywhere: ``build_ticket`` turns the payload into the ticket body (pure), zenpy
sends it, the answer becomes a ``TicketRef``. Set-up in Zendesk and the webhook body are in
``docs/zendesk.md``; the settings and the build step (``build_ticket``, ``render_note``) are in
``integrations/zendesk_ticket.py``, the webhook half (signature, trigger body, events) is in
``integrations/zendesk_webhooks.py``.

The edge. zenpy is given our own ``requests`` session, so its urllib3 retry adapter (which silently
re-sends a PUT after a timeout or a 503, duplicating an internal note) is never mounted, and a
response hook raises on every status >= 400 before zenpy sees it, so zenpy never sleeps on a 429
nor chokes on an HTTP-date ``Retry-After``. Everything is mapped in ``_edge``::

    status 408, 425, 429, 5xx        -> TransientDeliveryError (retry_after from Retry-After)
    other 4xx                        -> PermanentDeliveryError
    timeout, connection error        -> TransientDeliveryError
    our own rate limiter             -> TransientDeliveryError (retry_after), never a long sleep

Exactly once. The ticket's ``external_id`` is the handoff id, and ``deliver`` looks it up before
creating, on every attempt: an earlier attempt whose answer was lost (timeout, dropped connection,
a worker crash, an operator's ``outbox retry``, which resets the attempt count) is found and not
repeated. Ticket, fields and the payload note go in one request (a create, or one update of the
customer's own ticket), so finding the ticket means finding the note. A later note carries a
reference (``ref n-<hash of ticket and text>``) and is only added when no comment has it yet.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import logging
import threading
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from connector.errors import ConfigError
from integrations.base import (
    Delivery,
    DeliveryError,
    Destination,
    Finding,
    HelpdeskEvent,
    PermanentDeliveryError,
    RateLimiter,
    TicketRef,
    TransientDeliveryError,
    error_for_status,
)
from integrations.zendesk_ticket import (  # the pure half: settings and the ticket builder
    ZendeskSettings,
    _tag,
    build_ticket,
    existing_ticket_id,
    note_reference,
    render_note,
    update_for_existing,
)
from integrations.zendesk_webhooks import WEBHOOK_BODY_TEMPLATE, parse_trigger, verify_signature

__all__ = [
    "WEBHOOK_BODY_TEMPLATE",
    "ZendeskDestination",
    "ZendeskSettings",
    "build_ticket",
    "existing_ticket_id",
    "render_note",
]

logger = logging.getLogger(__name__)

INSTALL_HINT = "zenpy is not installed: pip install 'handoff-connector[zendesk]'"
# what each custom field may be in Zendesk (doctor checks it): ticket field ``type`` values
FIELD_TYPES = {"intent": {"text", "tagger"}, "sentiment": {"tagger", "text"},
               "reason": {"text", "tagger"}, "handoff_id": {"text"},
               "confidence": {"decimal", "text"}}  # fmt: skip


def _settings_problems(exc: ValidationError) -> list[tuple[str, str]]:
    return [(".".join(str(p) for p in err["loc"]), err["msg"]) for err in exc.errors()]


# --- the send step: zenpy behind one edge ----------------------------------------------------------


class _HTTPFailure(Exception):
    """Raised by our response hook for any status >= 400, before zenpy can sleep or re-parse."""

    def __init__(self, response: Any):
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _status_error(what: str, response: Any) -> DeliveryError:
    text = response.text[:2000]
    try:
        body = response.json()
        detail = " ".join(str(body.get(k)) for k in ("error", "description") if body.get(k))
    except ValueError:
        detail = ""
    return error_for_status(
        response.status_code,
        f"Zendesk {what}: {response.status_code} {detail}".strip(),
        response=text,
        retry_after=response.headers.get("Retry-After"),
    )


@contextlib.contextmanager
def _edge(what: str) -> Iterator[None]:
    """Map every zenpy or requests failure to a delivery error (see the module docstring)."""
    import requests

    try:
        from zenpy.lib.exception import APIException, RatelimitBudgetExceeded, ZenpyException
    except ImportError as exc:
        raise PermanentDeliveryError(INSTALL_HINT) from exc
    try:
        yield
    except DeliveryError:
        raise
    except _HTTPFailure as exc:
        raise _status_error(what, exc.response) from exc
    except APIException as exc:  # not reached through our hook; kept for safety
        response = getattr(exc, "response", None)
        if response is None:
            raise TransientDeliveryError(f"Zendesk {what}: {exc}") from exc
        raise _status_error(what, response) from exc
    except requests.Timeout as exc:
        raise TransientDeliveryError(f"Zendesk {what}: timed out") from exc
    except requests.RequestException as exc:
        raise TransientDeliveryError(f"Zendesk {what}: {type(exc).__name__}") from exc
    except RatelimitBudgetExceeded as exc:
        raise TransientDeliveryError(f"Zendesk {what}: rate limited") from exc
    except ZenpyException as exc:
        raise PermanentDeliveryError(f"Zendesk {what}: {exc}") from exc


def _zenpy_objects(ticket: dict[str, Any]) -> Any:
    from zenpy.lib.api_objects import Comment, Ticket, User

    fields = dict(ticket)
    if "requester" in fields:
        fields["requester"] = User(**fields["requester"])
    if "comment" in fields:
        fields["comment"] = Comment(**fields["comment"])
    return Ticket(**fields)


class ZendeskDestination(Destination):
    name = "zendesk"

    def __init__(self, settings: ZendeskSettings, runtime: Any):
        self.settings = settings
        self.runtime = runtime
        self.limiter = RateLimiter(settings.requests_per_minute, max_wait=0.5)
        self._local = threading.local()
        self._teams = {gid: team for team, gid in settings.group_ids.items()}

    # -- configuration ------------------------------------------------------------------------------
    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        try:
            ZendeskSettings.model_validate(settings)
        except ValidationError as exc:
            problems += _settings_problems(exc)
        try:
            import zenpy  # noqa: F401
        except ImportError:
            problems.append(("", INSTALL_HINT))
        return problems

    @classmethod
    def from_config(cls, settings: dict[str, Any], context: Any) -> ZendeskDestination:
        problems = cls.validate_settings(settings)
        if problems:
            raise ConfigError(
                [
                    (f"destinations.zendesk.{p}" if p else "destinations.zendesk", m)
                    for p, m in problems
                ]
            )
        return cls(ZendeskSettings.model_validate(settings), context)

    def _client(self) -> Any:
        """A zenpy client per thread, on a session with no retry adapter and our hooks."""
        client = getattr(self._local, "client", None)
        if client is not None:
            return client
        import requests
        from requests.adapters import HTTPAdapter

        try:
            from zenpy import Zenpy
        except ImportError as exc:
            raise PermanentDeliveryError(INSTALL_HINT) from exc
        limiter = self.limiter

        class Session(requests.Session):
            def request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
                limiter.acquire()
                return super().request(*args, **kwargs)

        def fail_on_error(response: Any, *args: Any, **kwargs: Any) -> Any:
            if response.status_code >= 400:
                raise _HTTPFailure(response)
            return response

        session = Session()
        for prefix in ("https://", "http://"):
            session.mount(prefix, HTTPAdapter(max_retries=0))
        session.hooks["response"].append(fail_on_error)
        s = self.settings
        client = Zenpy(
            subdomain=s.subdomain,
            email=s.email,
            token=s.token,
            session=session,
            timeout=s.timeout_seconds,
            disable_cache=True,
        )
        self._local.client = client
        return client

    def _ref(self, ticket_id: int | str, **extra: Any) -> TicketRef:
        url = f"https://{self.settings.subdomain}.zendesk.com/agent/tickets/{ticket_id}"
        return TicketRef(self.name, str(ticket_id), url, extra)

    # -- verbs --------------------------------------------------------------------------------------
    def find_ticket(self, handoff_id: str) -> int | None:
        """The oldest ticket whose ``external_id`` is this handoff, if any."""
        with _edge("ticket lookup"):
            found = [int(t.id) for t in self._client().tickets(external_id=handoff_id)]
        return min(found) if found else None

    def deliver(self, delivery: Delivery) -> TicketRef:
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
                with _edge("ticket update"):
                    client.tickets.update(_zenpy_objects({"id": existing, **update}))
                return self._ref(existing, updated_existing=True, **extra)
            except PermanentDeliveryError as exc:
                if exc.status != 404:
                    raise
                logger.warning(
                    "handoff %s: Zendesk ticket %s is gone; creating a new one",
                    delivery.handoff_id,
                    existing,
                )
        with _edge("ticket create"):
            audit = client.tickets.create(_zenpy_objects(ticket))
        return self._ref(audit.ticket.id, **extra)

    def add_note(self, ref: TicketRef, text: str, *, key: str | None = None) -> None:
        # the marker names the outbox row, so a retry finds its note and a repeat text is new
        origin = f"{ref.id}\n{key}" if key else f"{ref.id}\n{text}"
        reference = note_reference("n-" + hashlib.sha256(origin.encode()).hexdigest()[:20])
        client = self._client()
        with _edge("comment list"):
            for comment in client.tickets.comments(ticket=int(ref.id)):
                if any(
                    reference in (getattr(comment, f, None) or "")
                    for f in ("html_body", "body", "plain_body")
                ):
                    return  # an earlier attempt added it; its answer was lost
        body = f"<p>{html.escape(text)}</p>\n<p><small>{html.escape(reference)}</small></p>"
        with _edge("note"):
            client.tickets.update(
                _zenpy_objects({"id": int(ref.id), "comment": {"html_body": body, "public": False}})
            )

    def update(self, ref: TicketRef, fields: dict[str, Any], *, key: str | None = None) -> None:
        change: dict[str, Any] = {}
        if fields.get("priority") in ("low", "normal", "high", "urgent"):
            change["priority"] = fields["priority"]
        team = fields.get("team")
        if team and team in self.settings.group_ids:
            change["group_id"] = self.settings.group_ids[team]
            change["additional_tags"] = [_tag("handoff_team", team)]
        elif team:
            logger.warning("zendesk: no group id for team %r; the group is left as it is", team)
        if change:
            with _edge("ticket update"):
                self._client().tickets.update(_zenpy_objects({"id": int(ref.id), **change}))

    # -- webhooks (integrations/zendesk_webhooks.py) -----------------------------------------------
    def verify_webhook(self, headers: dict[str, str], body: bytes) -> None:
        window = self.runtime.settings.security.replay_window_seconds
        verify_signature(
            self.settings.webhook_secret, headers, body, now=self.runtime.now(), window=window
        )

    def parse_webhook(self, headers: dict[str, str], body: bytes) -> list[HelpdeskEvent]:
        return parse_trigger(
            body,
            api_email=self.settings.email,
            handback_tag=self.settings.handback_tag,
            teams=self._teams,
        )

    # -- doctor -------------------------------------------------------------------------------------
    def doctor(self) -> list[Finding]:
        s = self.settings
        where = f"{s.subdomain}.zendesk.com"
        client = self._client()
        try:
            with _edge("users/me"):
                me = client.users.me()
        except DeliveryError as exc:
            fix = (
                "create an API token in Admin Center > Apps and integrations > Zendesk API, "
                "set destinations.zendesk.email to its agent's e-mail and token to "
                "${ZENDESK_TOKEN}"
                if exc.status in (401, 403)
                else f"check destinations.zendesk.subdomain and that {where} is reachable"
            )
            return [Finding(False, f"credentials for {where}: {exc}", fix)]
        findings = [
            Finding(
                me.role in ("agent", "admin"),
                f"credentials: signed in to {where} as {me.email} ({me.role})",
                "use an agent or admin e-mail for destinations.zendesk.email",
            )
        ]
        try:
            with _edge("groups"):
                groups = {int(g.id): g.name for g in client.groups()}
            with _edge("ticket fields"):
                fields = {int(f.id): f for f in client.ticket_fields()}
        except DeliveryError as exc:
            return [
                *findings,
                Finding(
                    False,
                    f"cannot list groups and ticket fields: {exc}",
                    "the API user needs an agent role that can see all groups",
                ),
            ]
        for team, gid in s.group_ids.items():
            findings.append(
                Finding(
                    gid in groups,
                    f"group_ids.{team} = {gid}"
                    + (f" ({groups[gid]})" if gid in groups else " does not exist"),
                    f"pick one of: {', '.join(f'{i} {n}' for i, n in groups.items())}",
                )
            )
        for key, fid in s.custom_fields.items():
            field = fields.get(fid)
            wanted = FIELD_TYPES[key]
            ok = field is not None and field.type in wanted and field.active is not False
            what = f"custom_fields.{key} = {fid}" + (
                f" ({field.title}, {field.type})" if field else " does not exist"
            )
            findings.append(
                Finding(
                    ok,
                    what,
                    f"create an active ticket field of type "
                    f"{' or '.join(sorted(wanted))} (docs/zendesk.md) and use its id",
                )
            )
        if s.ticket_type:
            kind = next((f for f in fields.values() if f.type == "tickettype"), None)
            active = kind is not None and kind.active is not False
            state = "active" if active else "missing or inactive"
            fix = "activate the Type field (Admin Center > Objects and rules > Tickets > Fields)"
            findings.append(Finding(active, f"ticket_type = {s.ticket_type}: Type field {state}",
                                    fix + " or set ticket_type: null"))  # fmt: skip
        secret_fix = "put the webhook's signing secret in webhook_secret (docs/zendesk.md)"
        findings.append(Finding(bool(s.webhook_secret), "webhook_secret is set", secret_fix))
        return findings
