"""``handoff demo``: a realistic signed conversation that escalates, posted to a running connector."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from connector import security


class DemoError(Exception):
    """The demo could not post its event; the message is one line for the CLI."""


def demo_event(conversation_id: str, now: datetime) -> dict[str, Any]:
    """A realistic three-turn conversation whose last turn asks for a person."""
    at = [(now - timedelta(seconds=s)).isoformat() for s in (90, 80, 40, 30, 5)]
    return {
        "id": f"evt-{uuid.uuid4().hex[:12]}",
        "type": "conversation.updated",
        "occurred_at": now.isoformat(),
        "conversation": {
            "id": conversation_id,
            "channel": "web",
            "language": "en",
            "url": f"https://bot.example.com/conversations/{conversation_id}",
        },
        "customer": {
            "id": "cus_4242",
            "name": "Dana Whitfield",
            "email": "dana@example.com",
            "tier": "gold",
            "tags": ["vip"],
            "attributes": {"plan": "Business"},
        },
        "messages": [
            {
                "id": "m1",
                "role": "customer",
                "at": at[0],
                "text": "Hi, I was charged twice for my March invoice (INV-2291).",
            },
            {
                "id": "m2",
                "role": "bot",
                "at": at[1],
                "intent": "billing.double_charge",
                "confidence": 0.62,
                "text": "Sorry about that! Duplicate charges usually drop off within 3-5 business days.",
                "citations": [
                    {
                        "title": "Why do I see a pending duplicate charge?",
                        "url": "https://help.example.com/articles/duplicate-charges",
                        "snippet": "Authorisation holds are released within 3-5 business days.",
                    }
                ],
            },
            {
                "id": "m3",
                "role": "customer",
                "at": at[2],
                "text": "It's not pending, both charges settled a week ago. 2 x $480.",
            },
            {
                "id": "m4",
                "role": "bot",
                "at": at[3],
                "fallback": True,
                "text": "I'm not sure I understood. Could you rephrase?",
            },
            {
                "id": "m5",
                "role": "customer",
                "at": at[4],
                "text": "Can I talk to a real person please? I need this refunded.",
            },
        ],
        "bot": {
            "intent": {"name": "billing", "sub_intent": "double_charge", "confidence": 0.62},
            "summary": "Customer was charged twice ($480 each) for invoice INV-2291; both charges "
            "settled a week ago. Bot suggested an authorisation hold; customer says no "
            "and asks for a person and a refund.",
            "draft_reply": "Hi Dana, thanks for the details. I can see invoice INV-2291 was charged "
            "twice. I'm looking into the second $480 charge now and will confirm "
            "the next step shortly.",
            "citations": [],
            "next_action": "Verify the duplicate settlement in billing and open a refund request.",
        },
    }


def post_demo(base_url: str, source: str, secret: str) -> tuple[str, dict[str, Any]]:
    """Post :func:`demo_event` for a new conversation; return its id and the connector's answer."""
    import requests

    conversation_id = f"demo-{uuid.uuid4().hex[:8]}"
    body = json.dumps(demo_event(conversation_id, datetime.now(UTC))).encode()
    headers = {
        "Content-Type": "application/json",
        security.SOURCE_HEADER: source,
        security.SIGNATURE_HEADER: security.sign(
            secret, body, method="POST", path=security.url_path(f"{base_url}/v1/events")
        ),
    }
    try:
        response = requests.post(f"{base_url}/v1/events", data=body, headers=headers, timeout=15)
    except requests.RequestException as exc:
        raise DemoError(
            f"cannot reach the connector at {base_url}: {exc.__class__.__name__} "
            "(is `handoff serve` running?)"
        ) from None
    if response.status_code != 200:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text[:300]
        raise DemoError(f"the connector answered {response.status_code}: {detail}")
    return conversation_id, response.json()
