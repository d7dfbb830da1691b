"""Chatwoot requests from a handoff, without I/O: the settings, the private note, the contact and
conversation bodies, and which of our conversations already live in Chatwoot.

A handoff of a Chatwoot conversation (the ``chatwoot`` bot channel, ids ``chatwoot:<account>:<id>``)
is written into that conversation; any other handoff gets a conversation of its own in an API inbox
(``inbox_id``). The private note is the ticket: summary, reason, draft, next action, citations,
the last turns and the link to the handoff, in the Markdown Chatwoot renders in notes.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field

from connector.schemas import HandoffPayload
from integrations.base import DestinationSettings, rule

# our priorities → Chatwoot's (it has no "normal")
PRIORITIES = {"low": "low", "normal": "medium", "high": "high", "urgent": "urgent"}
MARKER = "handoff:"  # every note ends with "handoff: <id>" or "ref: <key>": how a retry finds it


class ChatwootDestinationSettings(DestinationSettings):
    base_url: Annotated[
        str,
        rule(
            lambda v: isinstance(v, str) and bool(re.match(r"^https?://[^\s/]+", v)),
            "must be an http:// or https:// URL",
        ),
    ]
    account_id: int = Field(ge=1)
    # a user (agent) token: contacts, conversations, custom attributes and labels take one
    api_access_token: str = Field(min_length=1)
    inbox_id: int | None = Field(default=None, ge=1)  # an API inbox for handoffs of other channels
    team_ids: dict[str, int] = Field(default_factory=dict)  # our team → Chatwoot team id
    webhook_secret: str | None = None  # the account webhook's secret (X-Chatwoot-Signature)
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)


def display_id(conversation_id: str, account_id: int) -> str | None:
    """The Chatwoot display id when the conversation is this account's Chatwoot conversation."""
    match = re.fullmatch(r"chatwoot:(\d+):(\d+)", conversation_id)
    return match.group(2) if match and int(match.group(1)) == account_id else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str) -> str:
    """Customer and bot text inside Markdown: no headings, links or emphasis of their making."""
    return re.sub(r"([\\`*_\[\]#<>|])", r"\\\1", text)


def render_note(payload: HandoffPayload, widget_url: str, *, turns: int = 12) -> str:
    """The private note that carries the handoff (Chatwoot renders notes as Markdown)."""
    p = payload
    team = f", team {p.routing.team}" if p.routing.team else ""
    rows = [
        f"**Handoff from the bot** ({p.routing.priority} priority{team})",
        f"**Summary:** {_plain(p.summary)}",
    ]
    reasons = "; ".join(
        f"{r.trigger}: {r.detail}" if r.detail else r.trigger for r in p.escalation.reasons
    )
    rows.append(f"**Why:** {_plain(reasons or 'requested')}")
    if p.intent.name:
        rows.append(f"**Intent:** {_plain(p.intent.name)}")
    if p.sentiment:
        rows.append(f"**Sentiment:** {p.sentiment.label} ({p.sentiment.trend})")
    if p.draft_reply:
        rows.append(f"**Draft reply:** {_plain(p.draft_reply)}")
    if p.next_action:
        rows.append(
            f"**Next action:** {_plain(p.next_action.action)} — {_plain(p.next_action.reasoning)}"
        )
    if p.citations:
        rows.append(
            "**Sources:**\n"
            + "\n".join(
                f"- [{_plain(c.title)}]({c.url})"
                if c.url and re.match(r"^https?://\S+$", c.url)
                else f"- {_plain(c.title)}"
                for c in p.citations[:10]
            )
        )
    if p.transcript.turns:
        rows.append(
            "**Last turns:**\n"
            + "\n".join(
                f"- {t.role}: {_plain(_clip(t.text, 500))}" for t in p.transcript.turns[-turns:]
            )
        )
    rows.append(f"[Open the handoff]({widget_url})")
    rows.append(f"{MARKER} {p.handoff_id}")
    return "\n\n".join(rows)


def keyed_note(text: str, key: str | None) -> str:
    """A later note (reminder, handback): the outbox key makes a retry recognisable."""
    return f"{text}\n\nref: {key}" if key else text


def contact_body(payload: HandoffPayload, inbox_id: int) -> dict[str, Any]:
    """A contact per handoff, identified by the handoff id: found again on a retry, never a clash
    with a contact of the same e-mail the account already has."""
    customer = payload.customer
    body: dict[str, Any] = {
        "inbox_id": inbox_id,
        "identifier": f"handoff-{payload.handoff_id}",
        "name": customer.name or customer.email or "Customer",
    }
    return body


def conversation_body(
    payload: HandoffPayload, source_id: str, inbox_id: int, contact_id: int, team_id: int | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source_id": source_id,
        "inbox_id": inbox_id,
        "contact_id": contact_id,
        "status": "open",
        "custom_attributes": {"handoff_id": payload.handoff_id},
    }
    if team_id is not None:
        body["team_id"] = team_id
    return body
