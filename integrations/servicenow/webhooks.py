"""What ServiceNow tells us: the Business Rule's REST call, its signature, and the events it means.

Pure functions (the clock and the settings are passed in). The Business Rule and the "Hand back to
bot" UI action that send the body are in ``docs/servicenow.md``; the body is::

    {"event_id": "<case sys_id>:<sys_mod_count>", "action": "assigned|comment|resolved|handback",
     "actor": "<user_name of who made the change>",
     "case": {"sys_id", "number", "correlation_id", "state", "assignment_group", "assigned_to",
              "contact_user"},
     "comment": {"author": "<user_name>", "text": "..."}}

signed as ``X-Handoff-Signature: base64(HMAC-SHA256(webhook_secret, timestamp + "." + body))`` with
``X-Handoff-Timestamp`` in Unix seconds (GlideCertificateEncryption.generateMac computes it).
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

SIGNATURE_HEADER = "X-Handoff-Signature"
TIMESTAMP_HEADER = "X-Handoff-Timestamp"
ACTIONS = ("assigned", "comment", "resolved", "handback")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, timestamp + "." + raw body))."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def verify_signature(secret: str | None, headers: dict[str, str], body: bytes, *, now: datetime,
                     window: int) -> None:  # fmt: skip
    """Raise ``Unauthorized`` unless the body is signed with ``secret`` within ``window`` seconds."""
    if not secret:
        raise Unauthorized("destinations.servicenow.webhook_secret is not configured")
    lower = {k.lower(): v for k, v in headers.items()}
    presented = lower.get(SIGNATURE_HEADER.lower(), "").strip()
    stamp = lower.get(TIMESTAMP_HEADER.lower(), "").strip()
    if not presented or not stamp:
        raise Unauthorized(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}")
    if not hmac.compare_digest(signature(secret, stamp, body).encode(), presented.encode()):
        raise Unauthorized("bad ServiceNow webhook signature")
    if not stamp.isdigit() or len(stamp) > 12:
        raise Unauthorized("unreadable ServiceNow webhook timestamp (Unix seconds expected)")
    if abs((now - datetime.fromtimestamp(int(stamp), UTC)).total_seconds()) > window:
        raise Unauthorized("stale ServiceNow webhook timestamp (outside the replay window)")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def parse_event(body: bytes, *, api_user: str, teams: dict[str, str]) -> list[HelpdeskEvent]:
    """The events one body means (the table in ``docs/servicenow.md``).

    ``api_user`` is the connector's own user_name: its changes are echoes and mean nothing.
    ``teams`` maps assignment group sys_ids back to connector teams.
    """
    try:
        data = load_bounded(body)
        case = data["case"]
        action = data["action"]
        if not isinstance(case, dict) or not isinstance(action, str):
            raise TypeError("case is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequest(
            "expected the handoff-connector Business Rule body (docs/servicenow.md)"
        ) from exc
    if action not in ACTIONS:
        raise BadRequest(f"action must be one of {', '.join(ACTIONS)}, not {action[:40]!r}")
    comment = data.get("comment") if isinstance(data.get("comment"), dict) else {}
    ours = api_user.lower()
    actor = _text(data.get("actor")) or None
    if actor and actor.lower() == ours:
        return []  # the echo of our own work note or update
    handoff_id = _text(case.get("correlation_id"))
    if not handoff_id:
        return []  # not a handoff case
    event_id = _text(data.get("event_id")) or _text(case.get("sys_id"))
    common: dict[str, Any] = {
        "handoff_id": handoff_id,
        "ticket_id": _text(case.get("sys_id")) or None,
    }
    group = _text(case.get("assignment_group"))
    team = (teams.get(group) or f"servicenow group {group}") if group else None
    text = _text(comment.get("text")) or None
    if action == "handback":
        return [HelpdeskEvent("handback", actor=actor, note=text, raw_id=f"{handoff_id}:handback:{event_id}",
                              **common)]  # fmt: skip
    if action == "resolved":
        return [
            HelpdeskEvent("solved", actor=actor, note=text, raw_id=f"{handoff_id}:solved", **common)
        ]
    if action == "assigned":
        assignee = _text(case.get("assigned_to"))
        if not assignee or assignee.lower() == ours:
            if not team:
                return []
            return [HelpdeskEvent("reassigned", actor=actor, team=team,
                                  raw_id=f"{handoff_id}:group:{group}:{event_id}", **common)]  # fmt: skip
        return [HelpdeskEvent("agent_assigned", actor=assignee, team=team,
                              raw_id=f"{handoff_id}:assigned:{assignee}:{group}", **common)]  # fmt: skip
    # a customer-visible comment: an agent's reply unless the customer or the connector wrote it
    author = _text(comment.get("author")) or (actor or "")
    if not author or author.lower() in (ours, _text(case.get("contact_user")).lower()):
        return []
    return [HelpdeskEvent("agent_replied", actor=author, team=team,
                          raw_id=f"{handoff_id}:reply:{event_id}", **common)]  # fmt: skip
