"""Chatwoot's account webhook: its signature, and its events in the connector's words.

The handoff is found through the conversation's ``custom_attributes.handoff_id``, which delivery
writes; a conversation without one is not ours. What counts:

- ``conversation_status_changed`` → ``pending``: the agent gives the conversation back to the bot
  (handback); → ``resolved``: solved.
- ``conversation_updated`` whose assignee is now an agent bot: handback (Chatwoot sets such a
  conversation pending too); a user as assignee: ``agent_assigned``; another team: ``reassigned``.
- ``message_created``, public and outgoing from a user: ``agent_replied``.

Private notes (ours included) and the connector's own changes map to nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from connector.errors import BadRequest, Unauthorized
from connector.limits import loads as load_bounded
from integrations.base import HelpdeskEvent

SIGNATURE_HEADER = "X-Chatwoot-Signature"
TIMESTAMP_HEADER = "X-Chatwoot-Timestamp"


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def verify(
    secret: str | None, headers: dict[str, str], body: bytes, *, now: float, window: int
) -> None:
    """``sha256=<HMAC-SHA256(secret, "<timestamp>.<raw body>")>`` within the replay window."""
    if not secret:
        raise Unauthorized(
            "destinations.chatwoot.webhook_secret is not set: unsigned webhooks are refused",
            slug="missing-signature",
        )
    signature, stamp = _header(headers, SIGNATURE_HEADER), _header(headers, TIMESTAMP_HEADER) or ""
    if not signature:
        raise Unauthorized(f"missing {SIGNATURE_HEADER} header", slug="missing-signature")
    if not stamp.isdigit():
        raise Unauthorized(f"{TIMESTAMP_HEADER} must be unix seconds", slug="bad-signature")
    if abs(now - int(stamp)) > window:
        raise Unauthorized(
            f"{TIMESTAMP_HEADER} is outside the ±{window} s replay window", slug="stale-signature"
        )
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().removeprefix("sha256=").lower()):
        raise Unauthorized(
            "signature does not match the body and the webhook secret", slug="bad-signature"
        )


def _handoff_id(conversation: dict[str, Any]) -> str | None:
    value = (conversation.get("custom_attributes") or {}).get("handoff_id")
    return str(value) if value else None


def _at(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None


def parse(body: dict[str, Any], team_ids: dict[str, int]) -> list[HelpdeskEvent]:
    """The events of one webhook body (already JSON)."""
    kind = body.get("event")
    if kind == "message_created":
        conversation = body.get("conversation") or {}
        sender = body.get("sender") or {}
        if (
            body.get("private")
            or body.get("message_type") != "outgoing"
            or sender.get("type") != "user"
        ):
            return []
        return [
            HelpdeskEvent(
                "agent_replied",
                _handoff_id(conversation),
                str(conversation.get("id")),
                actor=sender.get("name"),
                raw_id=f"message:{body.get('id')}",
            )
        ]
    if kind not in ("conversation_status_changed", "conversation_updated"):
        return []
    handoff_id = _handoff_id(body)
    ticket = str(body.get("id"))
    stamp = body.get("updated_at") or body.get("timestamp")
    raw = f"{kind}:{ticket}:{stamp}"
    meta = body.get("meta") or {}
    assignee = meta.get("assignee") or {}
    if kind == "conversation_status_changed":
        if body.get("status") == "pending":
            return [
                HelpdeskEvent(
                    "handback",
                    handoff_id,
                    ticket,
                    actor=assignee.get("name"),
                    note="Set back to pending in Chatwoot.",
                    at=_at(stamp),
                    raw_id=raw,
                )
            ]
        if body.get("status") == "resolved":
            return [
                HelpdeskEvent(
                    "solved",
                    handoff_id,
                    ticket,
                    actor=assignee.get("name"),
                    note="Resolved in Chatwoot.",
                    at=_at(stamp),
                    raw_id=raw,
                )
            ]
        return []
    changed = {
        key
        for entry in body.get("changed_attributes") or []
        if isinstance(entry, dict)
        for key in entry
    }
    if "assignee_id" in changed and meta.get("assignee_type") == "AgentBot":
        return [
            HelpdeskEvent(
                "handback",
                handoff_id,
                ticket,
                note="Assigned to the bot in Chatwoot.",
                at=_at(stamp),
                raw_id=raw,
            )
        ]
    if "assignee_id" in changed and assignee.get("name"):
        return [
            HelpdeskEvent(
                "agent_assigned",
                handoff_id,
                ticket,
                actor=assignee.get("name"),
                at=_at(stamp),
                raw_id=raw,
            )
        ]
    if "team_id" in changed:
        team_id = (meta.get("team") or {}).get("id")
        team = next((name for name, tid in team_ids.items() if tid == team_id), None)
        if team:
            return [
                HelpdeskEvent(
                    "reassigned", handoff_id, ticket, team=team, at=_at(stamp), raw_id=raw
                )
            ]
    return []


def load(body: bytes) -> dict[str, Any]:
    """The webhook body; ``BadRequest`` when it is not a JSON object with an ``event``."""
    try:
        data = load_bounded(body)
    except ValueError as exc:
        raise BadRequest("the Chatwoot webhook body is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        raise BadRequest("expected a Chatwoot webhook: a JSON object with an 'event'")
    return data
