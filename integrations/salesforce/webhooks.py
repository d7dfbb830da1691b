"""Salesforce webhooks without I/O: the Flow's secret or signature, and a record → HelpdeskEvents.

A record-triggered Flow posts JSON to ``/v1/webhooks/salesforce`` with the shared secret in
``X-Handoff-Salesforce-Secret`` (or an HMAC of the body in ``X-Handoff-Salesforce-Signature``) and
the org id in the body (docs/salesforce.md has the body and the Flow). Pure functions: the settings
and the integration user's id are passed in by ``SalesforceDestination``
(``destination.py``). Records the integration user wrote, or that carry the note
marker, are our own echoes and map to nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from connector.errors import BadRequest, Unauthorized
from connector.limits import loads as load_bounded
from integrations.base import HelpdeskEvent, HelpdeskEventKind
from integrations.salesforce.build import MARKER, SalesforceSettings
from integrations.salesforce.client import same_id

SECRET_HEADER = "X-Handoff-Salesforce-Secret"
SIGNATURE_HEADER = "X-Handoff-Salesforce-Signature"


def verify_request(settings: SalesforceSettings, headers: dict[str, str], body: bytes) -> None:
    """Raise ``Unauthorized`` unless the secret (or the signature) and the org id are ours."""
    secret, org_id = settings.webhook_secret, settings.org_id
    if not secret or not org_id:
        raise Unauthorized(
            "Salesforce webhooks are off: set destinations.salesforce.webhook_secret and org_id"
        )
    lower = {k.lower(): v for k, v in headers.items()}
    presented = lower.get(SECRET_HEADER.lower())
    signature = lower.get(SIGNATURE_HEADER.lower())
    if presented is not None:
        ok = hmac.compare_digest(presented.encode(), secret.encode())
    elif signature is not None:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(signature.removeprefix("sha256=").encode(), expected.encode())
    else:
        ok = False
    if not ok:
        raise Unauthorized(f"missing or wrong {SECRET_HEADER} (or {SIGNATURE_HEADER})")
    if not same_id(str(_document(body).get("org_id") or ""), org_id):
        raise Unauthorized("the webhook comes from another Salesforce org (org_id does not match)")


def _document(body: bytes) -> dict[str, Any]:
    try:
        document = load_bounded(body)
    except ValueError as exc:
        raise BadRequest("the Salesforce webhook body is not JSON") from exc
    if not isinstance(document, dict):
        raise BadRequest("the Salesforce webhook body must be a JSON object")
    return document


def parse_flow(
    body: bytes, settings: SalesforceSettings, user_id: str | None
) -> list[HelpdeskEvent]:
    """The Flow's body (one record, or ``{"events": [...]}``) as helpdesk events."""
    document = _document(body)
    listed = document.get("events")
    items = listed if isinstance(listed, list) else [document]
    events: list[HelpdeskEvent] = []
    for item in items:
        if isinstance(item, dict):
            events.extend(_events(item, settings, user_id))
    return events


def _team_of_queue(queue_id: str, settings: SalesforceSettings) -> str:
    for team, known in settings.queue_ids.items():
        if same_id(known, queue_id):
            return team
    return f"queue:{queue_id}"


def _events(
    item: dict[str, Any], settings: SalesforceSettings, user_id: str | None
) -> list[HelpdeskEvent]:
    """One Flow record (docs/salesforce.md) as helpdesk events; our own writes give none."""
    actor_id = str(item.get("actor_id") or "")
    text = str(item.get("body") or "")
    if (
        same_id(actor_id, user_id)
        or MARKER in text
        or MARKER in str(item.get("handback_note") or "")
    ):
        return []
    handoff_id = item.get("handoff_id") or None
    raw = str(item.get("event_id") or "") or None
    common = {
        "handoff_id": handoff_id,
        "ticket_id": item.get("case_id"),
        "actor": item.get("actor_name") or actor_id or None,
    }

    def event(kind: HelpdeskEventKind, **extra: Any) -> HelpdeskEvent:
        return HelpdeskEvent(
            kind,
            **{**common, **extra},
            raw_id=f"{raw}:{kind}" if raw else None,
        )

    kind = str(item.get("object") or "Case")
    if kind == "CaseComment":
        return (
            [event("agent_replied", text=text.strip() or None)] if item.get("is_published") else []
        )
    if kind == "EmailMessage":
        return (
            [event("agent_replied", text=text.strip() or None)]
            if item.get("incoming") is False
            else []
        )
    out: list[HelpdeskEvent] = []
    owner, prior = str(item.get("owner_id") or ""), str(item.get("prior_owner_id") or "")
    if owner and not same_id(owner, prior):
        if owner.startswith("005"):
            out.append(event("agent_assigned", actor=item.get("owner_name") or owner))
        elif owner.startswith("00G"):
            out.append(event("reassigned", team=_team_of_queue(owner, settings)))
    status = item.get("status")
    handback = item.get("handback") is True or (
        settings.handback_status is not None
        and status == settings.handback_status
        and status != item.get("prior_status")
    )
    if handback:
        out.append(event("handback", note=str(item.get("handback_note") or "") or None))
    elif item.get("is_closed") is True and item.get("prior_is_closed") is not True:
        out.append(
            event("solved", note=f"Case closed in Salesforce ({status})." if status else None)
        )
    return out
