"""Intercom webhooks without I/O: the ``X-Hub-Signature`` scheme and notification → HelpdeskEvents.

Intercom signs each notification with ``X-Hub-Signature: sha1=<hex HMAC-SHA1(client secret, raw
body)>``; the scheme has no timestamp, and a re-sent notification is applied once because the
shared webhook path records its ``id`` (``raw_id``). Parts authored by the connector's own admin are
its echoes and map to nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from connector.errors import BadRequest, Unauthorized
from connector.limits import loads as load_bounded
from integrations.base import HelpdeskEvent, HelpdeskEventKind
from integrations.intercom.build import IntercomSettings, author_id, parts_of, plain_text

SIGNATURE_HEADER = "X-Hub-Signature"


def handoff_id_of(item: Any, settings: IntercomSettings) -> str | None:
    """The handoff a conversation (custom attribute) or ticket (ticket attribute) belongs to."""
    if not isinstance(item, dict):
        return None
    if item.get("type") == "ticket":
        attrs, name = item.get("ticket_attributes"), settings.ticket_attributes.get("handoff_id")
    else:
        attrs, name = (
            item.get("custom_attributes"),
            settings.conversation_attributes.get("handoff_id"),
        )
    value = attrs.get(name) if isinstance(attrs, dict) and name else None
    return str(value) if value else None


def webhook_events(
    notification: dict[str, Any], settings: IntercomSettings, routed_team: str | None = None
) -> list[HelpdeskEvent]:
    """Map one ``notification_event`` to what the agent did. Our own admin's parts map to nothing."""
    topic = str(notification.get("topic") or "")
    item = (notification.get("data") or {}).get("item") or {}
    if topic == "ping" or not isinstance(item, dict):
        return []
    handoff_id = handoff_id_of(item, settings)
    if not handoff_id:
        return []
    seen = _Notification(notification, item, settings, str(handoff_id))
    if settings.handback_tag and settings.handback_tag.lower() in _tags_added(item):
        note = next(
            (
                p
                for p in reversed(seen.parts)
                if p.get("part_type") == "note" and author_id(p) != seen.ours
            ),
            None,
        )
        return [seen.event("handback", note, note=plain_text(note.get("body")) if note else None)]
    if topic.endswith(".admin.replied") or topic == "ticket.admin.replied":
        return seen.replied()
    if topic.endswith(".admin.noted") or topic == "ticket.note.created":
        return seen.noted()
    if topic.endswith(".admin.assigned"):
        return seen.assigned(routed_team)
    if topic.endswith(".admin.closed") or (
        topic in ("ticket.closed", "ticket.state.updated") and item.get("open") is False
    ):
        return [seen.event("solved", seen.last("close"))]
    return []


def _tags_added(item: dict[str, Any]) -> list[str]:
    added = item.get("tags_added")
    if not isinstance(added, dict):
        return []
    return [str(t.get("name", "")).lower() for t in added.get("tags", []) if isinstance(t, dict)]


class _Notification:
    """One notification about one of our handoffs, and how its parts become events."""

    def __init__(
        self,
        notification: dict[str, Any],
        item: dict[str, Any],
        settings: IntercomSettings,
        handoff_id: str,
    ) -> None:
        self.notification, self.item, self.settings = notification, item, settings
        self.handoff_id = handoff_id
        self.ours, self.raw = settings.admin_id, str(notification.get("id") or "")
        self.teams = {v: k for k, v in settings.team_ids.items()}
        self.parts = parts_of(item)

    def last(self, *types: str) -> dict[str, Any] | None:
        return next((p for p in reversed(self.parts) if p.get("part_type") in types), None)

    def event(
        self, kind: HelpdeskEventKind, part: dict[str, Any] | None, **kw: Any
    ) -> HelpdeskEvent:
        author = (part or {}).get("author") or {}
        actor = author.get("name") or (
            f"intercom admin {author['id']}" if author.get("id") else None
        )
        at = (part or {}).get("created_at") or self.notification.get("created_at")
        return HelpdeskEvent(
            kind,
            self.handoff_id,
            ticket_id=str(self.item.get("id") or "") or None,
            actor=kw.pop("actor", actor),
            raw_id=f"{self.raw}:{kind}" if self.raw else None,
            at=datetime.fromtimestamp(at, UTC) if isinstance(at, int) else None,
            **kw,
        )

    def team_name(self, team_id: Any) -> str | None:
        if team_id in (None, "", 0, "0"):
            return None
        return self.teams.get(str(team_id), f"intercom:{team_id}")

    def replied(self) -> list[HelpdeskEvent]:
        part = self.last("comment", "close", "open")
        if part is None or author_id(part) == self.ours:
            return []
        said = plain_text(part.get("body")) if part.get("part_type") == "comment" else ""
        return [self.event("agent_replied", part, text=said or None)]

    def noted(self) -> list[HelpdeskEvent]:
        part = self.last("note")
        prefix = self.settings.handback_note_prefix
        if part is None or author_id(part) == self.ours or not prefix:
            return []
        text = plain_text(part.get("body"))
        if not text.lower().startswith(prefix.lower()):
            return []
        return [self.event("handback", part, note=text[len(prefix) :].strip(" :-\n") or None)]

    def assigned(self, routed_team: str | None) -> list[HelpdeskEvent]:
        part = self.last("assignment", "default_assignment")
        if part is not None and author_id(part) == self.ours:
            return []
        to = (part or {}).get("assigned_to") or {}
        team = self.team_name(self.item.get("team_assignee_id"))
        if to.get("type") == "team" or (not to and not self.item.get("admin_assignee_id")):
            team = self.team_name(to.get("id")) or team
            return (
                [self.event("reassigned", part, team=team)] if team and team != routed_team else []
            )
        admin = to.get("id") or self.item.get("admin_assignee_id")
        if admin in (None, "", 0, "0"):
            return []
        return [self.event("agent_assigned", part, team=team, actor=f"intercom admin {admin}")]


def sign_webhook(secret: str, body: bytes) -> str:
    """``X-Hub-Signature``: ``sha1=`` + hex HMAC-SHA1 of the raw body with the app's client secret."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def verify_signature(secret: str | None, headers: dict[str, str], body: bytes) -> None:
    """Raise ``Unauthorized`` unless ``X-Hub-Signature`` signs ``body`` with ``secret``."""
    if not secret:
        raise Unauthorized(
            "destinations.intercom.client_secret is not set: Intercom webhooks are refused"
        )
    presented = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), "")
    if not hmac.compare_digest(presented.strip().encode(), sign_webhook(secret, body).encode()):
        raise Unauthorized(f"{SIGNATURE_HEADER} does not match the body", slug="bad-signature")


def parse_notification(body: bytes) -> dict[str, Any]:
    """The webhook body as a ``notification_event``; ``BadRequest`` when it is anything else."""
    try:
        notification = load_bounded(body)
    except ValueError as exc:
        raise BadRequest("the Intercom webhook body is not JSON") from exc
    if not isinstance(notification, dict) or notification.get("type") != "notification_event":
        raise BadRequest("expected an Intercom notification_event")
    return notification
