"""Hostile conversation content: always a decision and a payload, never a crash; escaped when shown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.config import load_config
from connector.payload import build_payload
from connector.policy import DecisionInput, decide
from connector.routing import route
from connector.schemas import BotContext, ConversationRef, Customer, Message
from tests.helpers import API_KEY, drain, dumps, event, signed_headers

SETTINGS = load_config(None, env={})
NOW = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)

TEXTS = {
    "empty": "",
    "whitespace": " \n\t ",
    "100kb": ("I need help with my refund " * 4000)[:100_000],
    "100kb-no-spaces": "x" * 100_000,
    "emoji": "😡😡😡 talk to a human 🙏🏽👩‍💻",
    "rtl-arabic": "أريد التحدث مع موظف بشري من فضلك",
    "rtl-hebrew": "אני רוצה לדבר עם נציג",
    "html-script": "<script>alert('x')</script><img src=x onerror=alert(1)> refund",
    "control-chars": "\x00\x01\x1b[31mred\x7f talk to an agent",
    "zalgo": "t̷a̵l̶k̸ ̷t̵o̶ ̴a̷ ̸h̵u̶m̸a̸n̵",
    "lone-surrogate-free-unicode": "\u202e\u200b\ufeff agent please",
}


def run(messages: list[Message]) -> tuple:  # type: ignore[type-arg]
    given = DecisionInput(
        event_type="conversation.updated",
        conversation=ConversationRef(id="c"),
        customer=Customer(name="<b>Eve</b>"),
        bot=BotContext(),
        messages=messages,
        new_messages=messages[-3:],
    )
    decision = decide(given, SETTINGS.policy)
    routing, message = route(
        decision, given.customer, None, SETTINGS.routing, NOW, messages=messages
    )
    payload = build_payload(
        handoff_id="ho",
        inputs=given,
        decision=decision,
        routing=routing,
        prior_handoffs=0,
        now=NOW,
        transcript_url=None,
        policy=SETTINGS.policy,
        settings=SETTINGS.payload,
    )
    return decision, payload, message


@pytest.mark.parametrize("text", TEXTS.values(), ids=TEXTS.keys())
def test_any_text_gets_a_decision_and_a_payload(text):  # type: ignore[no-untyped-def]
    decision, payload, message = run(
        [
            Message(id="1", role="customer", text=text),
            Message(id="2", role="bot", text=text),
            Message(id="3", role="customer", text=text),
        ]
    )
    assert decision.policy_version and len(payload.summary.split()) <= 80
    assert payload.draft_reply and message.text
    assert not any(
        r.detail.startswith("trigger failed") for r in [*decision.reasons, *decision.checked]
    )


def test_five_thousand_turns():
    messages = [
        Message(
            id=str(i),
            role="customer" if i % 2 == 0 else "bot",
            text=f"turn {i}: my card was declined again",
            fallback=i % 2 == 1 and i > 4990,
        )
        for i in range(5000)
    ]
    decision, payload, _ = run(messages)
    assert decision.escalate and len(payload.transcript.turns) == 5000


def test_hostile_text_through_http_is_escaped_in_the_inbox(client, worker):  # type: ignore[no-untyped-def]
    turns = [{"id": f"t{i}", "role": "customer", "text": t} for i, t in enumerate(TEXTS.values())]
    turns[-1] = {
        "id": "last",
        "role": "customer",
        "text": "<script>alert(1)</script> talk to a human 😡 مرحبا",
    }
    body = dumps(event(messages=turns))
    answer = client.post("/v1/events", data=body, headers=signed_headers(body))
    assert answer.status_code == 200, answer.json
    assert answer.json["decision"]["escalate"] is True
    handoff_id = answer.json["handoff"]["id"]
    drain(worker)
    page = client.get(f"/inbox/{handoff_id}?key={API_KEY}").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "<img src=x" not in page


def test_five_thousand_turns_through_http(client):  # type: ignore[no-untyped-def]
    turns = [
        {"id": f"t{i}", "role": "customer" if i % 2 == 0 else "bot", "text": f"turn {i}"}
        for i in range(4999)
    ] + [{"id": "last", "role": "customer", "text": "agent please"}]
    body = dumps(event(messages=turns))
    answer = client.post("/v1/events", data=body, headers=signed_headers(body))
    assert answer.status_code == 200 and answer.json["decision"]["escalate"] is True
