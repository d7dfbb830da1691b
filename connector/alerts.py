"""Which alerts a moment calls for, and what they say: the domain half of agent alerts.

``alerts_for`` turns an event (a handoff opened, a reminder, a fallback, a dead letter) into one
``outbox.Alert`` per alert channel that listens to it (and to the handoff's team); the worker sends
them through ``integrations/alerts.py``. The body is channel-neutral and carries no full customer
message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connector import links
from connector.config import Settings
from connector.outbox import Alert
from connector.store import HandoffRow

TITLES = {
    "handoff.opened": "New handoff waiting for an agent",
    "reminder": "Reminder: a customer is still waiting for an agent",
    "fallback": "No agent answered: fallback applied",
    "dead_letter": "A delivery was dead-lettered",
}


def alert_body(
    event: str,
    handoff: HandoffRow | None,
    *,
    base_url: str,
    reason: str,
    now: datetime,
    conversation_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The channel-neutral alert: what every notifier renders. No full customer messages."""
    payload = handoff.payload if handoff else {}
    customer = payload.get("customer") or {}
    return {
        "event": event,
        "title": TITLES.get(event, event),
        "handoff_id": handoff.id if handoff else None,
        "conversation_id": handoff.conversation_id if handoff else conversation_id,
        "team": handoff.team if handoff else None,
        "priority": handoff.priority if handoff else None,
        "summary": str(payload.get("summary") or "")[:1500],
        "customer": customer.get("name"),
        "reason": reason,
        "link": links.inbox_url(base_url, handoff.id) if handoff else None,
        "at": now.isoformat(),
        **(extra or {}),
    }


def alerts_for(
    settings: Settings,
    event: str,
    handoff: HandoffRow | None,
    *,
    occasion: str,
    reason: str,
    now: datetime,
    conversation_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> list[Alert]:
    """One ``Alert`` per channel that listens to ``event`` (and to the handoff's team)."""
    messages: list[Alert] = []
    body: dict[str, Any] | None = None
    team = handoff.team if handoff else None
    for name, channel in settings.alerts.channels.items():
        if event not in channel.events or (channel.teams and team not in channel.teams):
            continue
        if body is None:
            body = alert_body(
                event,
                handoff,
                base_url=settings.server.base_url(),
                reason=reason,
                now=now,
                conversation_id=conversation_id,
                extra=extra,
            )
        messages.append(
            Alert(
                channel=name,
                event=event,
                occasion=occasion,
                alert=body,
                handoff_id=handoff.id if handoff else None,
                conversation_id=body["conversation_id"],
            )
        )
    return messages
