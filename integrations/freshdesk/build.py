"""Freshdesk settings and the ticket builder: ``destinations.freshdesk`` and a payload → ticket, note.

Pure: no I/O, no clock. ``build_ticket`` is the "build" step of ``FreshdeskDestination``
(``destination.py``); ``render_note`` is the private note's HTML, every piece of customer or bot
text escaped. The ticket's description is what the requester sees in the portal, so it holds the
summary only; the handoff itself is the private note.
"""

from __future__ import annotations

import html
import re
from typing import Annotated, Any, Literal

from pydantic import Field

from connector.schemas import HandoffPayload
from integrations.base import DestinationSettings

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# Freshdesk's priorities: 1 low, 2 medium, 3 high, 4 urgent
PRIORITIES = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
MappedValue = Literal["summary", "intent", "sentiment", "reason", "handoff_id", "confidence", "team",
                      "widget_url", "language", "tier", "channel", "conversation_id"]  # fmt: skip
TAG_PREFIX = "handoff-"


class FreshdeskSettings(DestinationSettings):
    """``destinations.freshdesk`` (every key is documented in ``docs/freshdesk.md``)."""

    base_url: str = Field(pattern=r"^https://[A-Za-z0-9.-]+(:\d+)?/?$")
    api_key: str = Field(min_length=8)
    fallback_requester_email: str = Field(pattern=EMAIL)
    group_ids: dict[str, int] = Field(default_factory=dict)
    custom_fields: dict[MappedValue, Annotated[str, Field(pattern=r"^cf_[a-z0-9_]{1,60}$")]] = (
        Field(default_factory=dict)
    )
    ticket_type: str | None = Field(default=None, min_length=1)
    source: Literal[1, 2, 3, 7, 9, 10] = 7
    status: Literal[2, 3] = 2
    tags: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(default_factory=list)
    api_agent_email: str | None = Field(default=None, pattern=EMAIL)
    webhook_secret: str | None = Field(default=None, min_length=16)
    # Freshdesk allows 50 (trial) to 700 (Enterprise) calls a minute per account
    requests_per_minute: int = Field(default=100, ge=1, le=1000)
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)


def handoff_tag(handoff_id: str) -> str:
    """The tag that names the handoff on its ticket (how a retry and a webhook find it)."""
    return TAG_PREFIX + handoff_id


def note_reference(key: str) -> str:
    """The text that marks a note as ours and says which delivery made it."""
    return f"handoff-connector ref {key}"


def _link(url: str | None, label: str) -> str:
    text = html.escape(label)
    if url and re.match(r"^https?://", url, re.I):
        return f'<a href="{html.escape(url, quote=True)}">{text}</a>'
    return text


def render_note(payload: HandoffPayload, widget_url: str) -> str:
    """The payload as the HTML of a private note. Every piece of customer or bot text is escaped."""
    e = html.escape
    parts = [f"<h3>Handoff from the bot ({e(payload.routing.priority)} priority)</h3>",
             f"<p><strong>Summary:</strong> {e(payload.summary)}</p>"]  # fmt: skip
    reasons = "; ".join(
        r.trigger + (f" ({r.detail})" if r.detail else "") for r in payload.escalation.reasons
    )
    if reasons:
        parts.append(f"<p><strong>Why a person:</strong> {e(reasons)}</p>")
    if payload.draft_reply:
        parts.append("<p><strong>Draft reply</strong> (edit before sending):</p>"
                     f"<blockquote>{e(payload.draft_reply)}</blockquote>")  # fmt: skip
    if payload.next_action:
        parts.append(f"<p><strong>Next action:</strong> {e(payload.next_action.action)}"
                     f" — {e(payload.next_action.reasoning)}</p>")  # fmt: skip
    if payload.citations:
        items = "".join(f"<li>{_link(c.url, c.title)}" + (f": {e(c.snippet)}" if c.snippet else "") + "</li>"
                        for c in payload.citations)  # fmt: skip
        parts.append(f"<p><strong>What the bot used:</strong></p><ul>{items}</ul>")
    if payload.sentiment:
        s = payload.sentiment
        parts.append(
            f"<p><strong>Sentiment:</strong> {e(s.label)} (score {s.score:+.2f}, {e(s.trend)})</p>"
        )
    if payload.intent.name:
        conf = payload.intent.confidence
        parts.append(f"<p><strong>Intent:</strong> {e(payload.intent.name)}"
                     + (f" (confidence {conf:.2f})" if conf is not None else "") + "</p>")  # fmt: skip
    c = payload.customer
    who = ", ".join(e(str(v)) for v in (c.name, c.tier, c.language, c.channel) if v)
    if who:
        parts.append(f"<p><strong>Customer:</strong> {who}</p>")
    links = [_link(widget_url, "Open the handoff")]
    if payload.transcript.url:
        links.append(_link(payload.transcript.url, "Full transcript"))
    parts.append(f"<p>{' · '.join(links)}</p>")
    parts.append(f"<p><small>{e(note_reference(payload.handoff_id))}</small></p>")
    return "\n".join(parts)


def _values(payload: HandoffPayload, widget_url: str) -> dict[str, Any]:
    c, intent = payload.customer, payload.intent
    return {
        "summary": payload.summary, "intent": intent.name,
        "sentiment": payload.sentiment.label.lower() if payload.sentiment else None,
        "reason": payload.escalation.reasons[0].trigger if payload.escalation.reasons else None,
        "handoff_id": payload.handoff_id,
        "confidence": None if intent.confidence is None else f"{intent.confidence:.2f}",
        "team": payload.routing.team, "widget_url": widget_url, "language": c.language,
        "tier": c.tier, "channel": c.channel, "conversation_id": payload.conversation_id,
    }  # fmt: skip


def requester_email(payload: HandoffPayload, settings: FreshdeskSettings) -> str:
    """The requester: the customer's e-mail, else the configured fallback (Freshdesk needs one)."""
    email = (payload.customer.email or "").strip()
    return email if re.match(EMAIL, email) else settings.fallback_requester_email


def build_ticket(
    payload: HandoffPayload, settings: FreshdeskSettings, widget_url: str
) -> dict[str, Any]:
    """The body of ``POST /api/v2/tickets``: plain JSON data, no I/O.

    ``description`` is customer-visible in the portal: the summary only, escaped. The tag
    ``handoff-<id>`` (and the ``handoff_id`` custom field when mapped) names the handoff.
    """
    customer = payload.customer
    topic = payload.intent.name or (payload.escalation.reasons[0].trigger if payload.escalation.reasons
                                    else "handoff")  # fmt: skip
    who = customer.name or customer.email or "customer"
    ticket: dict[str, Any] = {
        "subject": f"[Handoff] {topic.replace('_', ' ')} — {who}"[:255],
        "description": f"<p>{html.escape(payload.summary)}</p>",
        "email": requester_email(payload, settings),
        "priority": PRIORITIES.get(payload.routing.priority, 2),
        "status": settings.status,
        "source": settings.source,
        "tags": list(dict.fromkeys(["handoff", handoff_tag(payload.handoff_id), *settings.tags])),
    }
    if customer.name:
        ticket["name"] = customer.name[:255]
    if settings.ticket_type:
        ticket["type"] = settings.ticket_type
    group_id = settings.group_ids.get(payload.routing.team or "")
    if group_id is not None:
        ticket["group_id"] = group_id
    values = _values(payload, widget_url)
    fields = {name: str(values[key]) for key, name in settings.custom_fields.items()
              if values.get(key) is not None}  # fmt: skip
    if fields:
        ticket["custom_fields"] = fields
    return ticket


def is_handoff_ticket(ticket: dict[str, Any], handoff_id: str, settings: FreshdeskSettings) -> bool:
    """Whether a listed ticket is this handoff's: its tag, or the mapped custom field."""
    if handoff_tag(handoff_id) in (ticket.get("tags") or []):
        return True
    field = settings.custom_fields.get("handoff_id")
    return bool(field) and (ticket.get("custom_fields") or {}).get(field) == handoff_id


def ticket_changes(fields: dict[str, Any], settings: FreshdeskSettings) -> dict[str, Any]:
    """What an ``update`` writes: the priority and the team's group, when known."""
    change: dict[str, Any] = {}
    if fields.get("priority") in PRIORITIES:
        change["priority"] = PRIORITIES[fields["priority"]]
    team = fields.get("team")
    if team and team in settings.group_ids:
        change["group_id"] = settings.group_ids[team]
    return change
