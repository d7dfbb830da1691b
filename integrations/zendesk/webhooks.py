"""What Zendesk tells us: the trigger's webhook, its signature, and the events it means.

Pure functions (the clock and the settings are passed in), used by ``ZendeskDestination`` in
``destination.py``. The trigger, the webhook and the body are set up as in
``docs/zendesk.md``; the body is ``WEBHOOK_BODY_TEMPLATE`` with Zendesk's placeholders filled in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from connector.errors import BadRequest, Unauthorized
from connector.limits import loads as load_bounded
from integrations.base import HelpdeskEvent

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"

# The JSON body of the trigger's webhook action (docs/zendesk.md shows it verbatim; a test renders it
# and parses the result). Zendesk fills the placeholders when the trigger fires.
WEBHOOK_BODY_TEMPLATE = """{
  "event_id": "{{ticket.id}}:{{ticket.updated_at_with_timestamp}}",
  "ticket": {
    "id": "{{ticket.id}}",
    "external_id": "{{ticket.external_id}}",
    "status": "{{ticket.status}}",
    "group_id": "{{ticket.group.id}}",
    "group_name": "{{ticket.group.name}}",
    "assignee_id": "{{ticket.assignee.id}}",
    "assignee_email": "{{ticket.assignee.email}}",
    "assignee_name": "{{ticket.assignee.name}}",
    "requester_email": "{{ticket.requester.email}}",
    "tags": "{{ticket.tags}}",
    "updated_at": "{{ticket.updated_at_with_timestamp}}"
  },
  "updater": {
    "id": "{{current_user.id}}",
    "email": "{{current_user.email}}",
    "name": "{{current_user.name}}"
  },
  "latest_comment": {% for comment in ticket.comments limit:1 offset:0 %}{
    "id": "{{comment.id}}",
    "author_email": "{{comment.author.email}}",
    "public": "{{comment.is_public}}",
    "body": "{{comment.value}}"
  }{% endfor %}
}"""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Zendesk's scheme: base64(HMAC-SHA256(secret, timestamp + raw body))."""
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def verify_signature(
    secret: str | None, headers: dict[str, str], body: bytes, *, now: datetime, window: int
) -> None:
    """Raise ``Unauthorized`` unless the request is signed with ``secret`` within ``window`` s."""
    if not secret:
        raise Unauthorized("destinations.zendesk.webhook_secret is not configured")
    lower = {k.lower(): v for k, v in headers.items()}
    presented = lower.get(SIGNATURE_HEADER.lower(), "").strip()
    stamp = lower.get(TIMESTAMP_HEADER.lower(), "").strip()
    if not presented or not stamp:
        raise Unauthorized(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}")
    if not hmac.compare_digest(signature(secret, stamp, body).encode(), presented.encode()):
        raise Unauthorized("bad Zendesk webhook signature")
    try:
        when = (datetime.fromtimestamp(int(stamp), UTC) if stamp.isdigit()
                else datetime.fromisoformat(stamp.replace("Z", "+00:00")))  # fmt: skip
    except (ValueError, OverflowError) as exc:
        raise Unauthorized("unreadable Zendesk webhook timestamp") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if abs((now - when).total_seconds()) > window:
        raise Unauthorized("stale Zendesk webhook timestamp (outside the replay window)")


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_trigger(
    body: bytes, *, api_email: str, handback_tag: str, teams: dict[int, str]
) -> list[HelpdeskEvent]:
    """The events one trigger body means (the table in ``docs/zendesk.md``).

    ``api_email`` is the connector's own API user: its updates are echoes and mean nothing.
    ``teams`` maps Zendesk group ids back to connector teams.
    """
    try:
        data = load_bounded(body)
        ticket = data["ticket"]
        if not isinstance(ticket, dict):
            raise TypeError("ticket is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequest("expected the handoff-connector trigger body (docs/zendesk.md)") from exc
    updater, comment = _object(data.get("updater")), _object(data.get("latest_comment"))
    ours = api_email.lower()
    if _text(updater.get("email")).lower() == ours:
        return []  # the echo of our own note or update
    handoff_id = _text(ticket.get("external_id"))
    if not handoff_id:
        return []  # not a handoff ticket
    actor = _text(updater.get("email")) or _text(updater.get("name")) or None
    tags = ticket.get("tags") or []
    tags = tags.split() if isinstance(tags, str) else [str(t) for t in tags]
    author = _text(comment.get("author_email")).lower()
    public = _flag(comment.get("public"))
    note = None  # the agent's note: the latest comment, when it is private and not ours
    if comment and not public and author != ours:
        note = _text(comment.get("body")) or None
    common: dict[str, Any] = {
        "handoff_id": handoff_id,
        "ticket_id": _text(ticket.get("id")) or None,
    }

    if handback_tag in tags:
        return [HelpdeskEvent("handback", actor=actor, note=note, raw_id=f"{handoff_id}:handback",
                              **common)]  # fmt: skip
    if _text(ticket.get("status")).lower() in ("solved", "closed"):
        return [HelpdeskEvent("solved", actor=actor, note=note, raw_id=f"{handoff_id}:solved",
                              **common)]  # fmt: skip

    events: list[HelpdeskEvent] = []
    group = _text(ticket.get("group_id"))
    team = None
    if group:
        team = teams.get(int(group)) if group.isdigit() else None
        team = team or f"zendesk group {_text(ticket.get('group_name')) or group}"
    assignee = _text(ticket.get("assignee_email")) or _text(ticket.get("assignee_id"))
    if assignee and assignee.lower() != ours:
        events.append(HelpdeskEvent("agent_assigned", actor=assignee, team=team,
                                    raw_id=f"{handoff_id}:assigned:{assignee}:{group}", **common))  # fmt: skip
    elif team:
        stamp = _text(data.get("event_id")) or _text(ticket.get("updated_at"))
        events.append(HelpdeskEvent("reassigned", actor=actor, team=team,
                                    raw_id=f"{handoff_id}:group:{group}:{stamp}", **common))  # fmt: skip
    requester = _text(ticket.get("requester_email")).lower()
    if comment and public and author and author not in (ours, requester):
        comment_id = _text(comment.get("id")) or _text(data.get("event_id"))
        events.append(HelpdeskEvent("agent_replied", actor=author, team=team,
                                    raw_id=f"{handoff_id}:reply:{comment_id}",
                                    text=_text(comment.get("body")) or None, **common))  # fmt: skip
    return events
