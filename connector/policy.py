"""The policy: explicit rules, not the model, decide whether a human takes over.

``decide`` is a pure function of the conversation and the policy settings: no store, no HTTP, no
clock. Rules are evaluated in order; every rule whose trigger fires becomes a reason (trigger,
rule id, detail with the matched words, score or threshold), and the first one decides whether to
escalate, the team and the queue. The priority is the highest of the fired escalating rules'
(a frustrated customer who also mentions a refund is ``high``), and ``priority_rule`` names the
rule that raised it. Rules that
were evaluated but did not fire are listed in ``Decision.checked`` with why not. The policy
version is a hash of the rules, so the audit trail says which rules decided.

Text triggers only look at customer turns this event added: a conversation handed back to the bot
must not escalate again on a request the agent already answered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from connector.learned.advice import advise
from connector.per_settings import PerSettings
from connector.policy_config import PRIORITIES, PolicySettings, Rule, When
from connector.schemas import BotContext, ConversationRef, Customer, Decision, Message, Reason
from connector.signals import (
    buying_intent,
    contact_type,
    conversation_sentiment,
    human_request_in,
    match_groups,
    repeated_failure,
    tool_failure,
)
from connector.signals.failures import (
    DEFAULT_BOT_APOLOGY_TERMS_BY_LANGUAGE,
    DEFAULT_BOT_FAILURE_TERMS_BY_LANGUAGE,
)
from connector.signals.human_request import DEFAULT_BOT_REJECTION_PATTERNS, DEFAULT_HUMAN_PATTERNS
from connector.signals.lexicon import flatten_groups, languages_of
from connector.signals.text import FrozenGroups, customer_texts, role_of
from connector.signals.topics import (
    DEFAULT_BUYING_EXCLUSIONS,
    DEFAULT_BUYING_TERMS,
    DEFAULT_CONTACT_TYPES,
    freeze_groups,
    topic_groups,
)


@dataclass(frozen=True)
class DecisionInput:
    """Everything a decision may look at."""

    event_type: str
    conversation: ConversationRef
    customer: Customer
    bot: BotContext  # the bot's context merged over the conversation's events
    messages: Sequence[Message]  # the whole transcript, oldest first
    new_messages: Sequence[Message]  # the turns this event added
    event_bot: BotContext | None = None  # the bot block of this event alone


_VERSIONS = PerSettings(limit=64)


def policy_version(settings: PolicySettings) -> str:
    """``p-`` and 12 hex digits of the SHA-256 of the canonical JSON of the rules and guardrails."""
    canonical = json.dumps(settings.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return "p-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _version(settings: PolicySettings) -> str:
    # Hashing the rules costs more than a whole decision: once per settings object.
    version: str = _VERSIONS.get(settings, policy_version)
    return version


_DERIVED = PerSettings(limit=256)


def _derived(when: When, what: str, build: Callable[[When], Any]) -> Any:
    """What a rule's trigger builds from its settings (term groups, pattern tables), built once per
    ``when`` object (``connector/per_settings.py``)."""
    return _DERIVED.get(when, build, what)


# --- triggers: (When, DecisionInput) -> (fired, detail) -----------------------------------------

Outcome = tuple[bool, str]


def _new_customer_text(inputs: DecisionInput, last: int) -> str:
    return "\n".join(customer_texts(inputs.new_messages, last=last))


def _quote(items: Sequence[str], limit: int = 6) -> str:
    return ", ".join(repr(i[:60]) for i in list(items)[:limit])


def _human_patterns(when: When) -> tuple[FrozenGroups, FrozenGroups]:
    languages = when.languages if when.languages is not None else list(DEFAULT_HUMAN_PATTERNS)
    patterns = {lang: DEFAULT_HUMAN_PATTERNS[lang] for lang in languages}
    if when.patterns:
        patterns["custom"] = tuple(when.patterns)
    rejections = {k: v for k, v in DEFAULT_BOT_REJECTION_PATTERNS.items() if k in languages}
    return FrozenGroups.of(patterns), FrozenGroups.of(rejections)


def _human_request(when: When, inputs: DecisionInput) -> Outcome:
    patterns, rejections = _derived(when, "human_request", _human_patterns)
    found = human_request_in(
        inputs.new_messages, last=when.last, patterns=patterns, bot_rejections=rejections
    )
    if found.requested:
        kind = "rejected the bot" if found.kind == "bot_rejection" else "asked for a person"
        return True, f"customer {kind}: {found.phrase!r} ({found.language})"
    if found.negated:
        return False, f"negated request ignored: {_quote(found.negated)}"
    return False, "no request for a person"


def _frustration(when: When, inputs: DecisionInput) -> Outcome:
    if not _new_customer_text(inputs, 1):
        return False, "no new customer turn"
    s = conversation_sentiment(inputs.messages, window=when.window)
    score_ok = when.threshold is None or s.score <= when.threshold
    limit = "" if when.threshold is None else f" (threshold {when.threshold:.2f})"
    detail = f"sentiment {s.label}, score {s.score:.2f}{limit}, trend {s.trend}"
    if s.cues:
        detail += f", cues: {_quote(s.cues)}"
    return s.label == "Frustrated" and score_ok, detail


def _intent_threshold(when: When, name: str | None) -> float:
    default = when.threshold if when.threshold is not None else 0.4
    if not name:
        return default
    for key in (name, name.split(".")[0], name.split("_")[0]):
        if key in when.intents:
            return when.intents[key]
    return default


def _low_confidence(when: When, inputs: DecisionInput) -> Outcome:
    intent, confidence = None, None
    for message in reversed(inputs.new_messages):
        if message.confidence is not None:
            intent, confidence = message.intent, message.confidence
            break
    if confidence is None and inputs.event_bot and inputs.event_bot.intent:
        bot_intent = inputs.event_bot.intent
        intent, confidence = bot_intent.name, bot_intent.confidence
    if confidence is None:
        return False, "no confidence reported with this event"
    threshold = _intent_threshold(when, intent)
    detail = f"intent {intent or '?'!r} confidence {confidence:.2f}, threshold {threshold:.2f}"
    return confidence < threshold, detail


def _groups(configured: dict[str, list[str]] | None, builtin: dict) -> dict:
    if configured is None:
        return builtin
    return {name: (terms or builtin[name]) for name, terms in configured.items()}


def _topic_groups(when: When) -> tuple[dict[str, dict[str, tuple[str, ...]]], FrozenGroups]:
    by_language = topic_groups(when.groups, when.languages)
    return by_language, freeze_groups(flatten_groups(by_language))


def _policy_topic(when: When, inputs: DecisionInput) -> Outcome:
    text = _new_customer_text(inputs, when.last)
    if not text:
        return False, "no new customer turn"
    by_language, groups = _derived(when, "policy_topic", _topic_groups)
    found = match_groups(text, groups)
    if not found.matched:
        return False, "no policy keyword"
    return True, "; ".join(
        f"{group}: {', '.join(languages_of(words[:6], by_language[group]))}"
        for group, words in found.matches
    )


def _customer_tag(when: When, inputs: DecisionInput) -> Outcome:
    if not _new_customer_text(inputs, 1):
        return False, "no new customer turn"
    wanted = {t.casefold() for t in when.tags}
    tags = [t for t in inputs.customer.tags if t.casefold() in wanted]
    tier = inputs.customer.tier
    tier_hit = tier is not None and tier.casefold() in {t.casefold() for t in when.tiers}
    if tags or tier_hit:
        parts = ([f"tags {_quote(tags)}"] if tags else []) + (
            [f"tier {tier!r}"] if tier_hit else []
        )
        return True, "customer " + " and ".join(parts)
    return False, "no matching tag or tier"


def _tool_failure(when: When, inputs: DecisionInput) -> Outcome:
    fresh = any(not call.ok for m in inputs.new_messages for call in m.tool_calls)
    if not fresh:
        return False, "no failed tool call in this event"
    found = tool_failure(inputs.messages, window=when.window, max_failures=when.max_failures)
    errors = [f"{t} ({e})" if e else t for t, e in zip(found.tools, found.errors, strict=True)]
    detail = (
        f"{found.count} failed tool call(s), threshold {when.max_failures}: {', '.join(errors)}"
    )
    return found.failed, detail


# What a bot says when it failed, by language: the audit names the language of the words quoted.
_BOT_FAILURE_WORDS = {
    lang: DEFAULT_BOT_FAILURE_TERMS_BY_LANGUAGE.get(lang, ())
    + DEFAULT_BOT_APOLOGY_TERMS_BY_LANGUAGE.get(lang, ())
    for lang in DEFAULT_BOT_FAILURE_TERMS_BY_LANGUAGE
}


def _repeated_failure(when: When, inputs: DecisionInput) -> Outcome:
    fresh = any(role_of(m) == "customer" or m.fallback for m in inputs.new_messages)
    if not fresh:
        return False, "no new customer turn or fallback"
    found = repeated_failure(
        inputs.messages,
        window=when.window,
        max_fallbacks=when.max_fallbacks,
        max_rephrasings=when.max_rephrasings,
        similarity_threshold=when.similarity,
        max_bot_failures=when.max_bot_failures,
    )
    detail = (
        f"{found.fallbacks} bot fallback(s) (threshold {found.max_fallbacks}), "
        f"{found.bot_failures} bot turn(s) saying they failed (threshold {found.max_bot_failures}), "
        f"{found.rephrasings} rephrasing(s) (threshold {found.max_rephrasings})"
    )
    if found.failure_quotes:
        said = languages_of(found.failure_quotes[:3], _BOT_FAILURE_WORDS)
        detail += f"; bot said: {', '.join(said)}"
    if found.pairs:
        detail += f": {_quote([b for _, b in found.pairs], 2)}"
    return found.failed, detail


def _buying_intent(when: When, inputs: DecisionInput) -> Outcome:
    text = _new_customer_text(inputs, when.last)
    if not text:
        return False, "no new customer turn"
    found = buying_intent(
        text,
        terms=when.terms or DEFAULT_BUYING_TERMS,
        exclusions=DEFAULT_BUYING_EXCLUSIONS if when.exclude is None else when.exclude,
    )
    return (
        (True, f"buying signal: {_quote(found.terms)}")
        if found.matched
        else (False, "no buying signal")
    )


def _contact_type(when: When, inputs: DecisionInput) -> Outcome:
    text = _new_customer_text(inputs, when.last)
    if not text:
        return False, "no new customer turn"
    types = _derived(
        when, "contact_type", lambda w: freeze_groups(_groups(w.types, dict(DEFAULT_CONTACT_TYPES)))
    )
    found = contact_type(text, types=types)
    if not found.matched:
        return False, "a customer"
    return True, f"{found.topic}: {_quote(found.terms)}"


def _bot_recommended(when: When, inputs: DecisionInput) -> Outcome:
    if inputs.event_type != "handoff.requested":
        return False, "the bot did not ask for a human"
    recommendation = inputs.bot.recommend_handoff
    return True, (
        recommendation.reason
        if recommendation and recommendation.reason
        else "bot asked for a human"
    )


TRIGGERS: dict[str, Callable[[When, DecisionInput], Outcome]] = {
    "human_request": _human_request,
    "frustration": _frustration,
    "low_confidence": _low_confidence,
    "policy_topic": _policy_topic,
    "customer_tag": _customer_tag,
    "tool_failure": _tool_failure,
    "buying_intent": _buying_intent,
    "repeated_failure": _repeated_failure,
    "contact_type": _contact_type,
    "bot_recommended": _bot_recommended,
}


def evaluate_rule(rule: Rule, inputs: DecisionInput) -> Outcome:
    """Run one rule's trigger. A trigger that raises is a bug; it is recorded, never fatal."""
    try:
        return TRIGGERS[rule.when.trigger](rule.when, inputs)
    except Exception as exc:  # noqa: BLE001 - one broken trigger must not lose the decision
        return False, f"trigger failed: {exc.__class__.__name__}"


def _highest_priority(fired: Sequence[Rule]) -> tuple[str, str | None]:
    """(priority, rule that raised it): the highest over the fired rules that escalate; the first
    such rule wins a tie, so a priority nobody raised stays with the deciding rule."""
    best, by = "normal", None
    for rule in fired:
        if not rule.then.escalate:
            continue
        priority = rule.then.priority or "normal"
        if by is None or PRIORITIES.index(priority) > PRIORITIES.index(best):
            best, by = priority, rule.id
    return best, by


def decide(inputs: DecisionInput, settings: PolicySettings) -> Decision:
    """Evaluate every rule in order; the first whose trigger fires decides. Then the learned model
    (``policy.model``, :mod:`connector.learned.advice`) may add an escalation no rule fired, as
    reason ``model_<reason>``, and propose a team (``learned`` entry ``model_team``) that routing
    uses when no rule, bot intent or team keyword names one."""
    reasons: list[Reason] = []
    checked: list[Reason] = []
    deciding: Rule | None = None
    fired_rules: list[Rule] = []
    for rule in settings.rules:
        fired, detail = evaluate_rule(rule, inputs)
        reason = Reason(trigger=rule.when.trigger, rule=rule.id, detail=detail)
        if fired:
            reasons.append(reason)
            fired_rules.append(rule)
            deciding = deciding or rule
        else:
            checked.append(reason)
    version = _version(settings)
    advice = advise(
        inputs,
        settings.model,
        rules=settings.rules,
        rules_escalated=deciding is not None and deciding.then.escalate,
        rule_team=deciding.then.team if deciding is not None else None,
    )
    learned = advice.checked
    if deciding is None and advice.escalation is not None and advice.extends is not None:
        then = advice.extends.then
        return Decision(
            escalate=True,
            reasons=[advice.escalation],
            team=then.team,
            queue=then.queue,
            priority=then.priority or "normal",
            priority_rule=advice.escalation.rule,
            tags=list(then.tags),
            rule=advice.escalation.rule,
            policy_version=version,
            checked=checked,
            learned=learned,
        )
    if deciding is None:
        return Decision(
            escalate=False, reasons=[], policy_version=version, checked=checked, learned=learned
        )
    then = deciding.then
    priority, priority_rule = (
        _highest_priority(fired_rules) if then.escalate else (then.priority or "normal", None)
    )
    return Decision(
        escalate=then.escalate,
        reasons=reasons,
        team=then.team,
        queue=then.queue,
        priority=priority,  # type: ignore[arg-type]
        priority_rule=priority_rule or deciding.id,
        tags=list(then.tags),
        rule=deciding.id,
        policy_version=version,
        checked=checked,
        learned=learned,
    )
