"""The policy as tables: which rule decides, what every reason says, what check-config refuses."""

from __future__ import annotations

from typing import Any

import pytest

from connector.config import PolicySettings, load_config
from connector.errors import ConfigError
from connector.policy import DecisionInput, decide, policy_version
from connector.policy_config import Rule
from connector.schemas import BotContext, ConversationRef, Customer, Message, ToolCall

DEFAULTS = load_config(None, env={}).policy


def msg(role: str, text: str = "", **extra: Any) -> Message:
    msg.count += 1  # type: ignore[attr-defined]
    return Message(id=f"m{msg.count}", role=role, text=text, **extra)  # type: ignore[attr-defined, arg-type]


msg.count = 0  # type: ignore[attr-defined]


def inputs(
    *turns: Message,
    new: int | None = None,
    event_type: str = "conversation.updated",
    customer: Customer | None = None,
    bot: BotContext | None = None,
) -> DecisionInput:
    turns_list = list(turns)
    fresh = turns_list if new is None else turns_list[len(turns_list) - new :]
    return DecisionInput(
        event_type=event_type,
        conversation=ConversationRef(id="c1"),
        customer=customer or Customer(),
        bot=bot or BotContext(),
        messages=turns_list,
        new_messages=fresh,
        event_bot=bot,
    )


def said(*texts: str) -> DecisionInput:
    return inputs(*(msg("customer", t) for t in texts))


# (id, inputs, escalate, deciding rule, first trigger, words expected in the first detail)
CASES = [
    (
        "asks-for-person",
        said("Can I talk to a real person please?"),
        True,
        "asks_for_person",
        "human_request",
        "real person",
    ),
    (
        "asks-in-spanish",
        said("Quiero hablar con un agente"),
        True,
        "asks_for_person",
        "human_request",
        "(es)",
    ),
    (
        "asks-in-german",
        said("Ich möchte mit einem Mitarbeiter sprechen"),
        True,
        "asks_for_person",
        "human_request",
        "(de)",
    ),
    (
        "negated-request",
        said("I don't need an agent, just tell me the opening hours"),
        False,
        None,
        None,
        None,
    ),
    (
        "refund-topic",
        said("I want a refund for my broken chair"),
        True,
        "policy_keywords",
        "policy_topic",
        "refund",
    ),
    (
        "typo-refund",
        said("Retun my order please"),
        True,
        "policy_keywords",
        "policy_topic",
        "refund",
    ),
    (
        "legal-first",
        said("My lawyer will contact you about the refund"),
        True,
        "legal_or_medical",
        "policy_topic",
        "lawyer",
    ),
    (
        "buying-to-sales",
        said("I would like a quote for 20 seats"),
        True,
        "buying_to_sales",
        "buying_intent",
        "quote",
    ),
    (
        "supplier",
        said("I am a supplier and our invoice is unpaid"),
        True,
        "supplier_or_contractor",
        "contact_type",
        "supplier",
    ),
    (
        "frustrated",
        said("This is useless!!! I have asked three times already"),
        True,
        "frustrated",
        "frustration",
        "Frustrated",
    ),
    ("calm-question", said("What are your opening hours?"), False, None, None, None),
    ("empty", said(""), False, None, None, None),
    (
        "tool-failed",
        inputs(
            msg("customer", "where is my parcel"),
            msg(
                "bot",
                "Let me check",
                tool_calls=[ToolCall(name="track", ok=False, error="timeout")],
            ),
        ),
        True,
        "tool_failed",
        "tool_failure",
        "track (timeout)",
    ),
    (
        "two-fallbacks",
        inputs(
            msg("customer", "how do I change the thing"),
            msg("bot", "Sorry?", fallback=True),
            msg("customer", "the setting"),
            msg("bot", "Sorry, I did not get that", fallback=True),
            msg("customer", "hmm"),
        ),
        True,
        "repeated_failure",
        "repeated_failure",
        "2 bot fallback(s)",
    ),
    (
        "low-confidence-billing",
        inputs(
            msg("customer", "my statement looks odd"),
            msg("bot", "Here's how statements work", intent="billing.statement", confidence=0.55),
        ),
        True,
        "low_confidence",
        "low_confidence",
        "threshold 0.60",
    ),
    (
        "confident-billing",
        inputs(
            msg("customer", "my statement looks odd"),
            msg("bot", "Here's how statements work", intent="billing.statement", confidence=0.9),
        ),
        False,
        None,
        None,
        None,
    ),
    (
        "bypass-tag",
        inputs(msg("customer", "hello"), customer=Customer(tags=["Bypass-Bot"])),
        True,
        "bypass_bot_tag",
        "customer_tag",
        "Bypass-Bot",
    ),
    (
        "vip-alone-stays",
        inputs(msg("customer", "hello"), customer=Customer(tags=["vip"])),
        False,
        None,
        None,
        None,
    ),
    (
        "bot-recommends",
        inputs(
            msg("customer", "hello"),
            event_type="handoff.requested",
            bot=BotContext.model_validate({"recommend_handoff": {"reason": "out of scope"}}),
        ),
        True,
        "escalate_on_bot_recommendation",
        "bot_recommended",
        "out of scope",
    ),
]


@pytest.mark.parametrize(
    "given,escalate,rule,trigger,detail", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_shipped_rules(given, escalate, rule, trigger, detail):  # type: ignore[no-untyped-def]
    decision = decide(given, DEFAULTS)
    assert decision.escalate is escalate, decision.reasons
    assert decision.rule == rule
    if trigger:
        assert decision.reasons[0].trigger == trigger and decision.reasons[0].rule == rule
        assert detail in decision.reasons[0].detail
    else:
        assert decision.reasons == []
    # every rule is accounted for: fired (a reason) or evaluated and not fired (checked)
    assert len(decision.reasons) + len(decision.checked) == len(DEFAULTS.rules)
    assert decision.policy_version == policy_version(DEFAULTS)


def test_every_fired_rule_is_a_reason_and_the_first_decides():
    decision = decide(said("I want a refund, let me talk to a person"), DEFAULTS)
    assert [r.rule for r in decision.reasons] == ["asks_for_person", "policy_keywords"]
    assert decision.rule == "asks_for_person" and decision.priority == "high"


def test_old_turns_do_not_escalate_again():
    # the request was answered by an agent and handed back; a bot-only event must not re-fire it
    given = inputs(msg("customer", "talk to a human"), msg("bot", "Welcome back!"), new=1)
    assert decide(given, DEFAULTS).escalate is False


def test_a_rule_can_keep_the_bot():
    policy = PolicySettings(
        rules=[
            Rule.model_validate(
                {
                    "id": "internal_tests",
                    "when": {"trigger": "customer_tag", "tags": ["qa"]},
                    "then": {"escalate": False},
                }
            ),
            *DEFAULTS.rules,
        ]
    )
    decision = decide(
        inputs(msg("customer", "agent please"), customer=Customer(tags=["qa"])), policy
    )
    assert decision.escalate is False and decision.rule == "internal_tests"
    assert [r.rule for r in decision.reasons] == ["internal_tests", "asks_for_person"]


def test_version_is_a_hash_of_the_rules():
    other = PolicySettings(rules=DEFAULTS.rules[:-1])
    assert policy_version(other) != policy_version(DEFAULTS)
    assert policy_version(PolicySettings()) == policy_version(DEFAULTS)


def test_custom_groups_and_patterns():
    policy = PolicySettings(
        rules=[
            Rule.model_validate(
                {
                    "id": "warranty",
                    "when": {
                        "trigger": "policy_topic",
                        "groups": {"warranty": ["warrant*", "guarantee"]},
                    },
                    "then": {"team": "general"},
                }
            ),
            Rule.model_validate(
                {
                    "id": "pager",
                    "when": {
                        "trigger": "human_request",
                        "languages": [],
                        "patterns": [r"\bpage (?:the )?on.?call\b"],
                    },
                }
            ),
        ]
    )
    assert decide(said("is it still under warranty?"), policy).rule == "warranty"
    assert decide(said("please page the on-call"), policy).rule == "pager"
    assert decide(said("talk to a human"), policy).escalate is False  # no built-in languages


BAD_RULES = [
    (
        "unknown-trigger",
        "- {id: a, when: {trigger: frustation}}",
        "policy.rules[0].when.trigger: unknown trigger 'frustation' (did you mean 'frustration'?)",
    ),
    (
        "rule-not-a-mapping",
        "- escalate on refunds",
        "policy.rules[0]: Input should be a valid dictionary",
    ),
    ("missing-when", "- {id: a}", "policy.rules[0].when: required key is missing"),
    ("bad-id", "- {id: 'no spaces', when: {trigger: frustration}}", "policy.rules[0].id:"),
    (
        "threshold-out-of-range",
        "- {id: a, when: {trigger: frustration}}\n    - {id: b, when: {trigger: low_confidence, threshold: 1.5}}",
        "policy.rules[1].when.threshold: Input should be less than or equal to 1",
    ),
    (
        "negative-confidence",
        "- {id: a, when: {trigger: low_confidence, threshold: -0.2}}",
        "policy.rules[0].when: threshold: a confidence threshold must be between 0 and 1",
    ),
    (
        "intent-threshold",
        "- {id: a, when: {trigger: low_confidence, intents: {billing: 2}}}",
        "policy.rules[0].when.intents.billing: Input should be less than or equal to 1",
    ),
    (
        "regex-does-not-compile",
        "- {id: a, when: {trigger: buying_intent, terms: ['re:(oops']}}",
        "policy.rules[0].when.terms: item 0: regex does not compile",
    ),
    (
        "group-regex",
        "- {id: a, when: {trigger: policy_topic, groups: {x: ['re:[z-a]']}}}",
        "policy.rules[0].when.groups: x: item 0: regex does not compile",
    ),
    (
        "unknown-builtin-group",
        "- {id: a, when: {trigger: policy_topic, groups: {warranty: []}}}",
        "no built-in policy topic of that name",
    ),
    (
        "param-of-other-trigger",
        "- {id: a, when: {trigger: human_request, tags: [vip]}}",
        "policy.rules[0].when: tags: not a parameter of trigger 'human_request'",
    ),
    (
        "unknown-param",
        "- {id: a, when: {trigger: frustration, treshold: 0.2}}",
        "policy.rules[0].when.treshold: unknown key",
    ),
    (
        "unknown-language",
        "- {id: a, when: {trigger: human_request, languages: [xx]}}",
        "no built-in patterns for language 'xx'",
    ),
    (
        "bad-priority",
        "- {id: a, when: {trigger: frustration}, then: {priority: asap}}",
        "policy.rules[0].then.priority: Input should be 'low', 'normal', 'high' or 'urgent'",
    ),
    (
        "unknown-team",
        "- {id: a, when: {trigger: frustration}, then: {team: biling}}",
        "policy.rules[0].then.team: unknown team 'biling' (did you mean 'billing'?)",
    ),
    (
        "duplicate-id",
        "- {id: a, when: {trigger: frustration}}\n    - {id: a, when: {trigger: tool_failure}}",
        "policy.rules: duplicate rule id 'a'",
    ),
    (
        "max-below-one",
        "- {id: a, when: {trigger: repeated_failure, max_fallbacks: 0}}",
        "policy.rules[0].when.max_fallbacks: Input should be greater than or equal to 1",
    ),
]


@pytest.mark.parametrize(
    "rules,expected", [c[1:] for c in BAD_RULES], ids=[c[0] for c in BAD_RULES]
)
def test_check_config_explains_bad_rules(tmp_path, rules, expected):  # type: ignore[no-untyped-def]
    path = tmp_path / "c.yaml"
    path.write_text(f"policy:\n  rules:\n    {rules}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert any(expected in line for line in info.value.lines()), info.value.lines()


def test_guardrail_regex_is_checked(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "c.yaml"
    path.write_text("policy:\n  guardrails:\n    - {id: g, forbid: ['re:(']}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert "policy.guardrails[0].forbid: item 0: regex does not compile" in info.value.lines()[0]


def test_buying_rule_leaves_the_team_to_routing():
    # issue 16: a fee or loan-payment question with a buying word is not a sales lead by force
    decision = decide(said("what is the fee to upgrade my card"), DEFAULTS)
    assert decision.rule == "buying_to_sales" and decision.team is None


def test_bot_saying_twice_it_failed_escalates():
    turns = [
        msg("customer", "book a table for 4 at 8"),
        msg("bot", "Sorry, nothing is free at 8 pm."),
        msg("customer", "9 then"),
        msg("bot", "I'm afraid I couldn't book 9 pm either."),
        msg("customer", "hm"),
    ]
    decision = decide(inputs(*turns), DEFAULTS)
    assert decision.rule == "repeated_failure"
    assert "2 bot turn(s) saying they failed (threshold 2)" in decision.reasons[0].detail
