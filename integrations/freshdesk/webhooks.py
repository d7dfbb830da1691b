"""What Freshdesk tells us: the automation rules' webhooks, their secret, and the events they mean.

Pure functions (the settings are passed in). Freshdesk's "Trigger webhook" action signs nothing;
it can send custom headers, so each rule sends ``X-Handoff-Secret: <webhook_secret>``, compared in
constant time. Every rule sends the same JSON (``WEBHOOK_BODY_TEMPLATE``) with its own ``event``;
the rules are in ``docs/freshdesk.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from connector.errors import BadRequest, Unauthorized
from connector.limits import loads as load_bounded
from integrations.base import HelpdeskEvent
from integrations.freshdesk.build import TAG_PREFIX

SECRET_HEADER = "X-Handoff-Secret"
EVENTS = ("assigned", "reply", "resolved", "handback")

# The "Content" of each rule's webhook (Encoding JSON, Advanced); ``EVENT`` is replaced by the
# rule's event (docs/freshdesk.md shows the four bodies). Freshdesk fills the placeholders.
WEBHOOK_BODY_TEMPLATE = """{
  "event": "EVENT",
  "ticket": {
    "id": "{{ticket.id}}",
    "status": "{{ticket.status}}",
    "tags": "{{ticket.tags}}",
    "group": "{{ticket.group.name}}",
    "agent_email": "{{ticket.agent.email}}",
    "agent_name": "{{ticket.agent.name}}",
    "requester_email": "{{ticket.requester.email}}"
  },
  "public_comment": "{{ticket.latest_public_comment}}",
  "private_comment": "{{ticket.latest_private_comment}}"
}"""


def verify_secret(secret: str | None, headers: dict[str, str]) -> None:
    """Raise ``Unauthorized`` unless the request carries the configured secret."""
    if not secret:
        raise Unauthorized("destinations.freshdesk.webhook_secret is not configured")
    presented = next((v for k, v in headers.items() if k.lower() == SECRET_HEADER.lower()), "")
    if not presented or not hmac.compare_digest(presented.strip().encode(), secret.encode()):
        raise Unauthorized(f"missing or wrong {SECRET_HEADER}")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def handoff_id_from_tags(tags: Any) -> str | None:
    """The handoff id in a ticket's tags (``handoff-<id>``), from a list or Freshdesk's
    comma-separated ``{{ticket.tags}}``."""
    items = tags if isinstance(tags, list) else re.split(r"[,\s]+", _text(tags))
    for tag in items:
        tag = _text(tag)
        if tag.lower().startswith(TAG_PREFIX) and len(tag) > len(TAG_PREFIX):
            return tag[len(TAG_PREFIX) :]
    return None


def parse_automation(body: bytes, *, api_agent_email: str | None) -> list[HelpdeskEvent]:
    """The events one webhook body means (the table in ``docs/freshdesk.md``).

    A repeat of the same body is the same event (its ``raw_id`` is the body's hash): Freshdesk
    retries a webhook that failed. ``api_agent_email`` is the API key's agent: an assignment to it
    is the connector's own doing and means nothing.
    """
    try:
        data = load_bounded(body)
        ticket, event = data["ticket"], data["event"]
        if not isinstance(ticket, dict) or not isinstance(event, str):
            raise TypeError("ticket is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequest(
            "expected the handoff-connector automation body (docs/freshdesk.md)"
        ) from exc
    if event not in EVENTS:
        raise BadRequest(f"event must be one of {', '.join(EVENTS)}, not {event[:40]!r}")
    handoff_id = handoff_id_from_tags(ticket.get("tags"))
    if not handoff_id:
        return []  # not a handoff ticket
    digest = hashlib.sha256(body).hexdigest()[:24]
    common: dict[str, Any] = {"handoff_id": handoff_id, "ticket_id": _text(ticket.get("id")) or None,
                              "raw_id": f"{handoff_id}:{event}:{digest}"}  # fmt: skip
    agent = _text(ticket.get("agent_email")) or _text(ticket.get("agent_name")) or None
    ours = (api_agent_email or "").lower()
    if event == "handback":
        note = _text(data.get("private_comment")) or None
        return [HelpdeskEvent("handback", actor=agent, note=note, **common)]
    if event == "resolved":
        return [HelpdeskEvent("solved", actor=agent, **common)]
    if not agent or (ours and agent.lower() == ours):
        return []  # unassigned, or assigned to the connector's own agent
    if event == "assigned":
        return [HelpdeskEvent("agent_assigned", actor=agent, **common)]
    return [HelpdeskEvent("agent_replied", actor=agent, **common)]
