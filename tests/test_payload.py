"""The handoff/v1 payload as tables: summary, draft reply and guardrails, next action, profile."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.config import load_config
from connector.payload import SUMMARY_MAX_WORDS, broken_guardrails, build_payload, summarise
from connector.policy import DecisionInput, decide
from connector.routing import route
from connector.schemas import (
    BotContext,
    ConversationRef,
    Customer,
    HandoffPayload,
    Message,
    ToolCall,
)

SETTINGS = load_config(None, env={})
NOW = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)


def conversation(
    *turns: tuple[str, str],
    bot: dict | None = None,
    customer: Customer | None = None,
    **message_extra,
) -> DecisionInput:  # type: ignore[no-untyped-def]
    messages = [
        Message(id=f"m{i}", role=role, text=text, **(message_extra if role == "bot" else {}))  # type: ignore[arg-type]
        for i, (role, text) in enumerate(turns)
    ]
    return DecisionInput(
        event_type="conversation.updated",
        conversation=ConversationRef(id="c1", language="en"),
        customer=customer or Customer(name="Ada Lovelace"),
        bot=BotContext.model_validate(bot or {}),
        messages=messages,
        new_messages=messages,
    )


def payload(given: DecisionInput, prior: int = 0) -> HandoffPayload:
    decision = decide(given, SETTINGS.policy)
    routing, _ = route(
        decision,
        given.customer,
        "en",
        SETTINGS.routing,
        NOW,
        messages=given.messages,
        bot=given.bot,
    )
    return build_payload(
        handoff_id="ho_1",
        inputs=given,
        decision=decision,
        routing=routing,
        prior_handoffs=prior,
        now=NOW,
        transcript_url="http://x/inbox/ho_1",
        policy=SETTINGS.policy,
        settings=SETTINGS.payload,
    )


REFUND = conversation(
    ("customer", "I was charged twice for order 881 and I want a refund"),
    ("bot", "Duplicate charges usually drop off in 3-5 days."),
    ("customer", "It's been two weeks. Talk to a person please."),
)

REFUND_TURNS = [(m.role, m.text) for m in REFUND.messages]

SUMMARIES = [
    (
        "bot-summary-fits",
        conversation(("customer", "agent please"), bot={"summary": "Wants a person."}),
        ["Wants a person."],
    ),
    (
        "built-when-missing",
        REFUND,
        [
            "Customer: I was charged twice for order 881 and I want a refund. It's been two weeks.",
            "Bot answered once.",
            "Needs a person: asked for a person.",
        ],
    ),
    (
        "built-when-too-long",
        conversation(("customer", "agent please"), bot={"summary": "word " * 120}),
        ["Customer: no request in their own words.", "Needs a person: asked for a person."],
    ),
    (
        "fallbacks-and-tools",
        conversation(
            ("customer", "where is my parcel 123"),
            ("bot", "Sorry?"),
            fallback=True,
            tool_calls=[ToolCall(name="track", ok=False, error="503")],
        ),
        ["Customer: where is my parcel 123.", "did not understand once", "lookup track failed"],
    ),
]


@pytest.mark.parametrize(
    "given,expected", [s[1:] for s in SUMMARIES], ids=[s[0] for s in SUMMARIES]
)
def test_summary(given, expected):  # type: ignore[no-untyped-def]
    text = summarise(given, decide(given, SETTINGS.policy))
    assert len(text.split()) <= SUMMARY_MAX_WORDS
    for part in expected:
        assert part in text, text


def test_summary_of_a_huge_paste_stays_short():
    given = conversation(("customer", "refund " + "x" * 99_990))
    assert len(summarise(given, decide(given, SETTINGS.policy)).split()) <= SUMMARY_MAX_WORDS


DRAFTS = [
    (
        "bot-draft-used",
        {"draft_reply": "Hi Ada, I'm checking order 881 now."},
        "Hi Ada, I'm checking order 881 now.",
        None,
    ),
    (
        "refund-promise-replaced",
        {"draft_reply": "Don't worry, we will refund you today."},
        "I'm looking at the charges",
        "no_refund_promise",
    ),
    (
        "refund-processed-replaced",
        {"draft_reply": "Your refund has been approved!"},
        "I'm looking at the charges",
        "no_refund_promise",
    ),
    ("template-by-team", {}, "I'm looking at the charges on your account", None),
    (
        "template-by-bot-intent",
        {"intent": {"name": "fraud.card"}},
        "Your security comes first",
        None,
    ),
    (
        "template-cites",
        {"citations": [{"title": "Refunds", "url": "https://h.example/r"}]},
        "Refunds (https://h.example/r)",
        None,
    ),
]


@pytest.mark.parametrize(
    "bot,expected,guardrail", [d[1:] for d in DRAFTS], ids=[d[0] for d in DRAFTS]
)
def test_draft_reply(bot, expected, guardrail):  # type: ignore[no-untyped-def]
    given = conversation(*REFUND_TURNS, bot=bot)
    result = payload(given)
    assert expected in result.draft_reply
    assert not broken_guardrails(result.draft_reply, SETTINGS.policy.guardrails)
    assert result.next_action is not None
    if guardrail:
        assert f"broke guardrail {guardrail}" in result.next_action.reasoning
    if not bot.get("draft_reply"):
        # it names what the bot learned, in our words: never the customer's words quoted back
        assert result.draft_reply.startswith("Hi Ada, I'm sorry about the trouble with order 881.")
        assert "“" not in result.draft_reply and "two weeks" not in result.draft_reply


@pytest.mark.parametrize("tone,greeting", [("friendly", "Hi Ada,"), ("formal", "Dear Ada,")])
def test_tone(tone, greeting):  # type: ignore[no-untyped-def]
    from connector.payload import draft_from_template
    from connector.policy_config import PayloadSettings
    from connector.schemas import IntentInfo, Routing

    text = draft_from_template(
        REFUND, Routing(team="billing"), IntentInfo(), [], PayloadSettings(tone=tone)
    )
    assert text.startswith(greeting)


@pytest.mark.parametrize(
    "text,broken",
    [
        ("We'll refund the full amount", ["no_refund_promise"]),
        ("I can reimburse you", ["no_refund_promise"]),
        ("I'll look into whether a refund is possible", []),
        ("We guarantee delivery tomorrow", ["no_compensation_promise"]),
        ("", []),
    ],
    ids=["will-refund", "can-reimburse", "look-into", "guarantee", "empty"],
)
def test_guardrails(text, broken):  # type: ignore[no-untyped-def]
    assert [g for g, _ in broken_guardrails(text, SETTINGS.policy.guardrails)] == broken


def test_the_whole_payload():
    customer = Customer(
        id="c-1",
        name="Ada Lovelace",
        tier="gold",
        tags=["vip"],
        attributes={"lifetime_value": 1234.5},
    )
    given = conversation(
        *REFUND_TURNS,
        customer=customer,
        bot={"next_action": "Refund the second charge after checking settlement."},
    )
    result = payload(given, prior=2)
    assert result.customer.prior_handoffs == 2 and result.customer.lifetime_value == 1234.5
    assert result.intent.source == "connector" and result.intent.name == "billing"
    assert result.routing.team == "billing" and result.routing.priority == "high"
    assert result.escalation.rules[0] == "asks_for_person"
    assert result.next_action.action.startswith("Refund the second charge")
    assert "rule asks_for_person" in result.next_action.reasoning
    assert result.sentiment is not None and result.sentiment.label in (
        "Frustrated",
        "Neutral",
        "Uninterested",
        "Interested",
    )
    assert [t.role for t in result.transcript.turns] == ["customer", "bot", "customer"]
    dumped = result.model_dump(mode="json", by_alias=True)
    assert dumped["schema"] == "handoff/v1"
    HandoffPayload.model_validate(dumped)


def test_schema_command_prints_the_json_schema():
    out = CliRunner().invoke(main, ["schema"])
    assert out.exit_code == 0
    document = json.loads(out.output)
    assert document["title"] == "HandoffPayload"
    assert {"summary", "draft_reply", "next_action", "routing", "sentiment", "intent"} <= set(
        document["properties"]
    )


INTENT_CASES = [
    # (customer turn, bot block, team, intent source, evidence prefix, confidence)
    ("my card was stolen, I need an agent", {}, "fraud", "connector", "keywords: stolen", 1.0),
    ("agent please, why was I charged a fee", {}, "billing", "connector", "keywords: ", 1.0),
    (
        "agent please",
        {"intent": {"name": "billing.refund", "confidence": 0.9}},
        "billing",
        "bot",
        None,
        0.9,
    ),
]


@pytest.mark.parametrize("text,bot,team,source,evidence,confidence", INTENT_CASES)
def test_intent_explains_the_routing(text, bot, team, source, evidence, confidence):  # type: ignore[no-untyped-def]
    given = payload(conversation(("customer", text), bot=bot))
    assert given.intent.name.split(".")[0] == team and given.intent.source == source
    if evidence is None:
        assert given.intent.confidence == confidence
    else:
        assert given.intent.evidence and given.intent.evidence[0].startswith(evidence)
        assert given.intent.confidence is not None and 0 < given.intent.confidence <= confidence


def test_sentiment_reports_its_thresholds():
    given = payload(conversation(("customer", "this is useless, agent now")))
    assert given.sentiment is not None
    assert given.sentiment.thresholds == {
        "positive": 0.45, "negative": -0.3, "trend_delta": 0.25, "complaint": -0.3,
    }  # fmt: skip
