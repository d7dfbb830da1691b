"""Zendesk settings and the ticket builder: ``destinations.zendesk`` and a payload → ticket body, note.

Pure: no I/O, no clock. ``build_ticket`` is the "build" step of ``ZendeskDestination``
(``destination.py``), unit-tested on its own; ``render_note`` is the internal note's HTML,
with every piece of customer or bot text escaped.
"""

from __future__ import annotations

import html
import re
from typing import Any, Literal

from pydantic import Field

from connector.schemas import HandoffPayload
from integrations.base import DestinationSettings, contact

TAG = r"^[a-z0-9_\-/:.]{1,80}$"
_TICKET_IN_CONVERSATION = re.compile(r"^(?:zendesk[:_-](?:ticket[:_-])?)?(\d{1,15})$")


class ZendeskSettings(DestinationSettings):
    """``destinations.zendesk`` (every key is documented in ``docs/zendesk.md``)."""

    subdomain: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    token: str = Field(min_length=8)
    group_ids: dict[str, int] = Field(default_factory=dict)
    custom_fields: dict[
        Literal["intent", "sentiment", "reason", "handoff_id", "confidence"], int
    ] = Field(default_factory=dict)
    ticket_type: Literal["question", "incident", "problem", "task"] | None = "question"
    update_existing_ticket: bool = False
    handback_tag: str = Field(default="handoff_back_to_bot", pattern=TAG)
    webhook_secret: str | None = Field(default=None, min_length=8)
    # Zendesk's Support API allows 200 (Team) to 700 (Enterprise) requests a minute, 2500 with the
    # High Volume add-on; stay under the smallest plan unless told otherwise.
    requests_per_minute: int = Field(default=200, ge=1, le=2500)
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # after a create whose answer was lost, the retry that looks the ticket up by external_id
    # waits this long, so a lookup that lags the write still sees the ticket
    search_settle_seconds: float = Field(default=60, ge=0, le=3600)


# --- the build step: payload -> ticket body, no I/O ------------------------------------------------


def tag(*parts: str) -> str:
    """A Zendesk tag from parts: lower case, only the characters Zendesk keeps, at most 80."""
    return re.sub(r"[^a-z0-9_\-/:]+", "_", "_".join(parts).lower()).strip("_")[:80]


def _safe_url(url: str | None) -> str | None:
    return url if url and re.match(r"^https?://", url, re.I) else None


def _link(url: str | None, label: str) -> str:
    safe = _safe_url(url)
    text = html.escape(label)
    return f'<a href="{html.escape(safe, quote=True)}">{text}</a>' if safe else text


def note_reference(key: str) -> str:
    """The text that marks a note as ours and says which delivery made it."""
    return f"handoff-connector ref {key}"


def render_note(payload: HandoffPayload, widget_url: str) -> str:
    """The payload as the HTML of an internal note. Every piece of customer or bot text is escaped."""
    e = html.escape
    parts = [
        f"<h3>Handoff from the bot ({e(payload.routing.priority)} priority)</h3>",
        f"<p><strong>Summary:</strong> {e(payload.summary)}</p>",
    ]
    reasons = "; ".join(
        f"{r.trigger}" + (f" ({r.detail})" if r.detail else "") for r in payload.escalation.reasons
    )
    if reasons:
        parts.append(f"<p><strong>Why a person:</strong> {e(reasons)}</p>")
    if payload.draft_reply:
        parts.append(
            f"<p><strong>Draft reply</strong> (edit before sending):</p>"
            f"<blockquote>{e(payload.draft_reply)}</blockquote>"
        )
    if payload.next_action:
        parts.append(
            f"<p><strong>Next action:</strong> {e(payload.next_action.action)}"
            f" — {e(payload.next_action.reasoning)}</p>"
        )
    if payload.citations:
        items = "".join(
            f"<li>{_link(c.url, c.title)}" + (f": {e(c.snippet)}" if c.snippet else "") + "</li>"
            for c in payload.citations
        )
        parts.append(f"<p><strong>What the bot used:</strong></p><ul>{items}</ul>")
    if payload.sentiment:
        s = payload.sentiment
        parts.append(
            f"<p><strong>Sentiment:</strong> {e(s.label)} (score {s.score:+.2f}, {e(s.trend)})</p>"
        )
    intent = payload.intent
    if intent.name:
        conf = f", confidence {intent.confidence:.2f}" if intent.confidence is not None else ""
        parts.append(
            f"<p><strong>Intent:</strong> {e(intent.name)}"
            + (f" / {e(intent.sub_intent)}" if intent.sub_intent else "")
            + f" ({e(intent.source)}{conf})</p>"
        )
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


def _custom_fields(payload: HandoffPayload, settings: ZendeskSettings) -> list[dict[str, Any]]:
    reason = payload.escalation.reasons[0].trigger if payload.escalation.reasons else None
    values: dict[str, Any] = {
        "intent": payload.intent.name,
        "sentiment": payload.sentiment.label.lower() if payload.sentiment else None,
        "reason": reason,
        "handoff_id": payload.handoff_id,
        "confidence": payload.intent.confidence,
    }
    return [
        {"id": field_id, "value": values[key]}
        for key, field_id in settings.custom_fields.items()
        if values.get(key) is not None
    ]


def _tags(payload: HandoffPayload) -> list[str]:
    tags = ["handoff"]
    tags += [tag("handoff_reason", r.trigger) for r in payload.escalation.reasons]
    if payload.routing.team:
        tags.append(tag("handoff_team", payload.routing.team))
    if payload.sentiment:
        tags.append(tag("handoff_sentiment", payload.sentiment.label))
    return list(dict.fromkeys(t for t in tags if t))


def build_ticket(
    payload: HandoffPayload, settings: ZendeskSettings, widget_url: str
) -> dict[str, Any]:
    """The ``ticket`` object of ``POST /api/v2/tickets``: plain JSON data, no I/O.

    ``comment`` is the internal note (``public: false``, so the customer is never e-mailed the
    payload); ``requester`` is omitted without an e-mail (the API user is then the requester).
    """
    # the requester's e-mail must be an address (the spec's ``format: email``): one that is not
    # is left out, with a line in the note, and the API user is the requester instead
    checked = contact(
        payload.customer.name,
        payload.customer.email,
        None,
        name_max=255,
        phone_max=40,
        vendor="Zendesk",
    )
    topic = payload.intent.name or (
        payload.escalation.reasons[0].trigger if payload.escalation.reasons else "handoff"
    )
    subject = f"[Handoff] {topic.replace('_', ' ')} — {checked.name or checked.email or 'customer'}"
    note = render_note(payload, widget_url)
    if checked.left_out:
        note = f"<p><strong>Contact:</strong> {html.escape(checked.note())}</p>\n" + note
    ticket: dict[str, Any] = {
        "subject": subject[:150],
        "comment": {"html_body": note, "public": False},
        "priority": payload.routing.priority,
        "tags": _tags(payload),
        "external_id": payload.handoff_id,
    }
    if checked.email:
        ticket["requester"] = {"name": checked.name or checked.email, "email": checked.email}
    if settings.ticket_type:
        ticket["type"] = settings.ticket_type
    group_id = settings.group_ids.get(payload.routing.team or "")
    if group_id is not None:
        ticket["group_id"] = group_id
    fields = _custom_fields(payload, settings)
    if fields:
        ticket["custom_fields"] = fields
    return ticket


def refused_requester(error: Exception, ticket: dict[str, Any]) -> bool:
    """Is ``error`` Zendesk's 422 about the requester (its e-mail or name) of ``ticket``?"""
    status = getattr(error, "status", None)
    said = (getattr(error, "response", None) or "").lower()
    return (
        status == 422 and "requester" in ticket and any(w in said for w in ("requester", "email"))
    )


def without_requester(ticket: dict[str, Any]) -> dict[str, Any]:
    """``ticket`` without its requester, and a line at the top of the note saying why."""
    line = (
        "<p><strong>Contact:</strong> Zendesk refused the customer's contact details "
        f"({html.escape(ticket['requester'].get('email', ''))}); the ticket was filed without a "
        "requester.</p>\n"
    )
    comment = {**ticket["comment"], "html_body": line + ticket["comment"]["html_body"]}
    return {**{k: v for k, v in ticket.items() if k != "requester"}, "comment": comment}


def existing_ticket_id(payload: HandoffPayload, settings: ZendeskSettings) -> int | None:
    """The customer's own Zendesk ticket, when the conversation is one and the config says so.

    Rule: ``update_existing_ticket`` is on and either the customer attribute ``zendesk_ticket_id``
    holds a number, or the conversation's channel is ``zendesk`` and its id is the ticket number
    (``12345``, ``zendesk:12345`` or ``zendesk-ticket-12345``).
    """
    if not settings.update_existing_ticket:
        return None
    attribute = str(payload.customer.attributes.get("zendesk_ticket_id") or "").strip()
    if attribute.isdigit():
        return int(attribute)
    if (payload.customer.channel or "").lower() == "zendesk":
        match = _TICKET_IN_CONVERSATION.match(payload.conversation_id.strip().lower())
        if match:
            return int(match.group(1))
    return None


def update_for_existing(ticket: dict[str, Any], handback_tag: str) -> dict[str, Any]:
    """The update that turns the customer's own ticket into the handoff ticket: keep its subject,
    requester and tags. Tags change through the ticket tags endpoints (the single-ticket update
    has no ``additional_tags``/``remove_tags`` in Zendesk's spec): add ``ticket["tags"]``, remove
    ``handback_tag`` (left from an earlier handoff)."""
    return {k: v for k, v in ticket.items() if k not in ("subject", "requester", "tags")}
