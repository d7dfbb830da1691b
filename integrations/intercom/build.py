"""Intercom without I/O: the settings, and a handoff turned into Intercom request bodies.

Pure functions of data (no SDK, no HTTP, no clock): what ``destination.py`` sends is built
here and unit-tested on its own. Notes are Intercom's note HTML subset with every customer or bot
text escaped; each handoff note carries ``marker(handoff_id)`` so a retry can find it.
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field

from connector.schemas import HandoffPayload
from integrations.base import (
    DestinationSettings,
    PermanentDeliveryError,
    contact,
    rule,
    valid_email,
)

REGIONS = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}
INSTALL_HINT = "python-intercom is not installed: pip install 'handoff-connector[intercom]'"
# what a payload offers to ticket attributes and conversation custom attributes (``payload_items``)
ITEMS = (
    "handoff_id", "title", "summary", "reason", "intent", "sub_intent", "confidence", "sentiment",
    "priority", "team", "queue", "widget_url", "transcript_url", "conversation_id", "channel",
    "customer_tier", "customer_email", "draft_reply", "next_action",
)  # fmt: skip
# how many of a conversation's or ticket's newest parts a retry looks through for what an earlier
# attempt posted (Intercom returns at most 500); agents and the customer may write in between
RECENT_PARTS = 100


def _id(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"\d+", value) is not None


# YAML reads an unquoted id as a number: take it as the digits it is (the right-most runs first)
IntercomId = Annotated[str, rule(_is_id, "must be an Intercom id (digits)"), BeforeValidator(_id)]


class IntercomSettings(DestinationSettings):
    """``destinations.intercom`` (see docs/intercom.md)."""

    token: str = Field(min_length=1)
    base_url: str = REGIONS["us"]
    admin_id: IntercomId
    assignee_admin_id: IntercomId | None = None
    team_ids: dict[str, IntercomId] = Field(default_factory=dict)
    conversation_channels: list[str] = Field(default_factory=lambda: ["intercom"])
    ticket_type_id: IntercomId | None = None
    ticket_attributes: dict[str, str] = Field(
        default_factory=lambda: {"title": "_default_title_", "summary": "_default_description_"}
    )
    conversation_attributes: dict[str, str] = Field(
        default_factory=lambda: {
            "handoff_id": "handoff_id",
            "reason": "handoff_reason",
            "intent": "handoff_intent",
            "sentiment": "handoff_sentiment",
        }
    )
    client_secret: str | None = None
    handback_tag: str | None = "hand back to bot"
    handback_note_prefix: str | None = "#handback"
    requests_per_minute: float = Field(default=1000, gt=0, le=10000)
    timeout_seconds: float = Field(default=10, gt=0, le=120)
    # Intercom's ticket search is eventually consistent: after a create whose answer was lost,
    # the retry that searches for the ticket waits this long, so the search can see it
    search_settle_seconds: float = Field(default=60, ge=0, le=3600)

    @classmethod
    def key_problems(
        cls, raw: dict[str, Any], parsed: IntercomSettings | None
    ) -> list[tuple[str, str]]:
        """Checked once every key has the right type (so only when ``parsed`` is there)."""
        if parsed is None:
            return []
        problems: list[tuple[str, str]] = []
        url = urlsplit(parsed.base_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            problems.append(("base_url", "must be an http(s) URL such as " + REGIONS["us"]))
        for section in ("ticket_attributes", "conversation_attributes"):
            for item, name in getattr(parsed, section).items():
                if item not in ITEMS:
                    problems.append(
                        (f"{section}.{item}", "unknown payload item; known: " + ", ".join(ITEMS))
                    )
                if not name.strip():
                    problems.append((f"{section}.{item}", "must name an Intercom attribute"))
        if "handoff_id" not in parsed.conversation_attributes:
            problems.append(
                (
                    "conversation_attributes.handoff_id",
                    "required: webhooks find the handoff through this conversation attribute",
                )
            )
        if parsed.ticket_type_id and "handoff_id" not in parsed.ticket_attributes:
            problems.append(
                (
                    "ticket_attributes.handoff_id",
                    "required with ticket_type_id: a retry searches it before creating a ticket",
                )
            )
        if parsed.client_secret is not None and not parsed.client_secret.strip():
            problems.append(
                ("client_secret", "must not be empty (unset it to refuse all webhooks)")
            )
        return problems


def is_intercom_conversation(payload: HandoffPayload, channels: list[str]) -> bool:
    """The documented rule: the bot's channel names Intercom, so its conversation id is Intercom's."""
    channel = (payload.customer.channel or "").strip().lower()
    return channel in {c.strip().lower() for c in channels}


def marker(handoff_id: str) -> str:
    """The text every handoff note carries, so a retry can find a note it posted before."""
    return f"handoff:{handoff_id}"


def _safe_url(url: str | None) -> str | None:
    return url if url and urlsplit(url).scheme in ("http", "https") else None


def _clip(text: str | None, limit: int) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def payload_items(payload: HandoffPayload, widget_url: str) -> dict[str, Any]:
    """Every ``ITEMS`` value this payload has (absent ones are left out, never sent as null)."""
    reason = payload.escalation.reasons[0] if payload.escalation.reasons else None
    subject = payload.intent.name or (reason.trigger if reason else None) or "handoff"
    who = payload.customer.name or payload.customer.email or "customer"
    summary = payload.summary + (f"\n\nHandoff: {widget_url}" if widget_url else "")
    items: dict[str, Any] = {
        "handoff_id": payload.handoff_id,
        "title": _clip(f"Handoff: {subject} — {who}", 150),
        "summary": summary,
        "reason": reason.trigger if reason else None,
        "intent": payload.intent.name,
        "sub_intent": payload.intent.sub_intent,
        "confidence": payload.intent.confidence,
        "sentiment": payload.sentiment.label if payload.sentiment else None,
        "priority": payload.routing.priority,
        "team": payload.routing.team,
        "queue": payload.routing.queue,
        "widget_url": widget_url or None,
        "transcript_url": payload.transcript.url,
        "conversation_id": payload.conversation_id,
        "channel": payload.customer.channel,
        "customer_tier": payload.customer.tier,
        "customer_email": payload.customer.email,
        "draft_reply": payload.draft_reply,
        "next_action": payload.next_action.action if payload.next_action else None,
    }
    return {k: v for k, v in items.items() if v is not None and v != ""}


def mapped(items: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """Payload items renamed to the configured Intercom attribute names."""
    return {name: items[item] for item, name in mapping.items() if item in items}


def render_note(payload: HandoffPayload, widget_url: str, *, turns: int = 12) -> str:
    """The internal note: Intercom's note HTML subset; every customer or bot text is escaped."""
    e = html.escape
    p = payload
    rows = [
        f"<p><b>Handoff from the bot</b> ({e(p.routing.priority)} priority"
        + (f", team {e(p.routing.team)}" if p.routing.team else "")
        + ")</p>",
        f"<p><b>Summary:</b> {e(p.summary)}</p>",
    ]
    who = " · ".join(
        e(str(x)) for x in (p.customer.name, p.customer.tier, p.customer.language) if x
    )
    if p.sentiment:
        who += f" · {e(p.sentiment.label)} ({e(p.sentiment.trend)})"
    rows.append(f"<p><b>Customer:</b> {who or 'unknown'}</p>")
    if p.customer.email and valid_email(p.customer.email) is None:
        left_out = contact(
            None, p.customer.email, None, name_max=255, phone_max=40, vendor="Intercom"
        )
        rows.append(f"<p><b>Contact:</b> {e(left_out.note())}</p>")
    if p.intent.name:
        conf = f", {p.intent.confidence:.0%}" if p.intent.confidence is not None else ""
        sub = f" / {e(p.intent.sub_intent)}" if p.intent.sub_intent else ""
        rows.append(f"<p><b>Intent:</b> {e(p.intent.name)}{sub} ({e(p.intent.source)}{conf})</p>")
    reasons = "; ".join(
        e(f"{r.trigger}: {r.detail}" if r.detail else r.trigger) for r in p.escalation.reasons
    )
    rows.append(f"<p><b>Why:</b> {reasons or 'requested'}</p>")
    if p.draft_reply:
        rows.append(f"<p><b>Draft reply:</b> {e(p.draft_reply)}</p>")
    if p.next_action:
        rows.append(
            f"<p><b>Next action:</b> {e(p.next_action.action)} — {e(p.next_action.reasoning)}</p>"
        )
    if p.citations:
        links = [
            f'<li><a href="{e(u)}">{e(c.title)}</a></li>'
            if (u := _safe_url(c.url))
            else f"<li>{e(c.title)}</li>"
            for c in p.citations[:10]
        ]
        rows.append("<p><b>Sources:</b></p><ul>" + "".join(links) + "</ul>")
    if p.transcript.turns:
        lines = "<br>".join(
            f"<b>{e(t.role)}:</b> {e(_clip(t.text, 500))}" for t in p.transcript.turns[-turns:]
        )
        rows.append(f"<p><b>Last turns:</b><br>{lines}</p>")
    links = [
        f'<a href="{e(u)}">{label}</a>'
        for label, u in (
            ("Open the handoff", _safe_url(widget_url)),
            ("Full transcript", _safe_url(p.transcript.url)),
        )
        if u
    ]
    if links:
        rows.append("<p>" + " · ".join(links) + "</p>")
    rows.append(f"<p>Ref: {e(marker(p.handoff_id))}</p>")
    return "".join(rows)


def note_request(admin_id: str, body: str) -> dict[str, Any]:
    return {"message_type": "note", "type": "admin", "admin_id": admin_id, "body": body}


def assignment_request(admin_id: str, target: tuple[str, str]) -> dict[str, Any]:
    kind, assignee = target
    return {
        "message_type": "assignment",
        "type": kind,
        "admin_id": admin_id,
        "assignee_id": assignee,
    }


def ticket_contact(payload: HandoffPayload) -> dict[str, str]:
    """Who the ticket is for: the customer's e-mail when it is an address, else their id.

    Intercom creates a contact for an unknown e-mail but not for an unknown ``external_id`` (the
    spec promises creation for ``email`` only): the destination resolves an ``external_id`` to a
    contact, creating it when there is none, before the ticket names it by ``id``."""
    email = valid_email(payload.customer.email or "")
    if email:
        return {"email": email}
    if payload.customer.id:
        return {"external_id": payload.customer.id}
    raise PermanentDeliveryError(
        "an Intercom ticket needs the customer's email or id; the event had neither"
    )


def steps_found(
    conversation: dict[str, Any],
    *,
    handoff_id: str,
    admin_id: str,
    target: tuple[str, str] | None,
    attributes: dict[str, Any],
) -> dict[str, Any]:
    """What an earlier attempt already did to this conversation (read from ``GET /conversations``)."""
    done: dict[str, Any] = {}
    tag = html.escape(marker(handoff_id))
    for part in parts_of(conversation):
        if (
            part.get("part_type") == "note"
            and author_id(part) == admin_id
            and tag in (part.get("body") or "")
        ):
            done["note_part_id"] = str(part.get("id"))
    if target is not None:
        kind, assignee = target
        if str(conversation.get(f"{kind}_assignee_id") or "") == assignee:
            done["assigned"] = f"{kind}:{assignee}"
    current = conversation.get("custom_attributes") or {}
    if attributes and all(current.get(k) == v for k, v in attributes.items()):
        done["attributes_set"] = True
    return done


def note_marker(ref_id: str, key: str | None, text: str) -> str:
    """The reference a later note carries: from the outbox row's key, so a retry finds its note
    and the same text under another key is a new note (from the text when there is no key)."""
    origin = f"{ref_id}\n{key}" if key else f"{ref_id}\n{text}"
    return "note:" + hashlib.sha256(origin.encode()).hexdigest()[:20]


def later_note_body(text: str, reference: str) -> str:
    """A later note's HTML: the text's lines as paragraphs, then the reference."""
    lines = "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines() if line.strip())
    return (lines or "<p></p>") + f"<p>Ref: {html.escape(reference)}</p>"


def note_landed(item: dict[str, Any], admin_id: str, reference: str) -> bool:
    """Whether one of the newest ``RECENT_PARTS`` parts is our note carrying ``reference``."""
    tag = f"Ref: {html.escape(reference)}"
    return any(
        p.get("part_type") == "note" and author_id(p) == admin_id and tag in (p.get("body") or "")
        for p in parts_of(item)[-RECENT_PARTS:]
    )


def epoch_seconds(at: str | None) -> int | None:
    """An ISO 8601 time as the Unix seconds Intercom's ``created_at`` takes (None if unreadable)."""
    try:
        moment = datetime.fromisoformat(at or "")
    except ValueError:
        return None
    return int(moment.timestamp()) if moment.tzinfo is not None else None


def turn_landed(item: dict[str, Any], contact: str, text: str, created_at: int | None) -> bool:
    """Whether a customer turn copied as ``contact`` is already there: among the newest
    ``RECENT_PARTS`` parts, one of the contact's with this text and the turn's own ``created_at``
    (each copy carries the time the customer said it, so the same words said again later are a
    new turn). A turn without a time: the newest part being the contact's with this text."""

    def says(part: dict[str, Any]) -> bool:  # as sent, or as Intercom renders it (``<p>…</p>``)
        body = part.get("body")
        return body in (html.escape(text), text) or plain_text(body) == text.strip()

    parts = parts_of(item)[-RECENT_PARTS:]
    if created_at is None:
        return bool(parts) and author_id(parts[-1]) == contact and says(parts[-1])
    return any(
        author_id(p) == contact and p.get("created_at") == created_at and says(p) for p in parts
    )


def parts_of(item: dict[str, Any]) -> list[dict[str, Any]]:
    for key in ("conversation_parts", "ticket_parts"):
        holder = item.get(key) or {}
        if isinstance(holder, dict) and isinstance(holder.get(key), list):
            return [p for p in holder[key] if isinstance(p, dict)]
    return []


def author_id(part: dict[str, Any]) -> str:
    return str((part.get("author") or {}).get("id") or "")


def plain_text(body: str | None) -> str:
    text = re.sub(r"<br\s*/?>|</p>", "\n", body or "", flags=re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()
