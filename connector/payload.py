"""Decision + conversation → ``handoff/v1`` payload. Pure: no store, no HTTP, no clock read.

- Summary: the bot's own when it sends one of at most 80 words; otherwise built as
  "Wants: … Tried: … Why: …" from the customer's turns, the bot's attempts and the reasons.
- Draft reply: the bot's when it breaks no guardrail; otherwise a template per intent or team in
  the configured tone that acknowledges what the customer said and points to the citations.
  Guardrails (``policy.guardrails``) are words a draft must never contain, such as a refund
  promise: a bot draft that breaks one is replaced, and the next action says so.
- Text is kept as the customer wrote it; every surface that renders it must escape it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from connector.learned.advice import learned_sentiment
from connector.policy import DecisionInput
from connector.policy_config import Guardrail, PayloadSettings, PolicySettings
from connector.schemas import (
    Citation,
    CustomerProfile,
    Decision,
    Escalation,
    HandoffPayload,
    IntentInfo,
    NextAction,
    Routing,
    SentimentInfo,
    Transcript,
    TranscriptTurn,
)
from connector.signals import conversation_sentiment
from connector.signals.sentiment import sentiment_thresholds
from connector.signals.text import customer_texts, find_terms, normalize

SUMMARY_MAX_WORDS = 80
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _clip_words(text: str, limit: int) -> str:
    words = text.split()
    return " ".join(words) if len(words) <= limit else " ".join(words[:limit]).rstrip(",;:.") + "…"


def _first_sentence(text: str, limit: int) -> str:
    text = " ".join(text.split()[:400])  # a 100 KB paste is not a request
    return _clip_words(_SENTENCE.split(text.strip(), maxsplit=1)[0] if text else "", limit)


def _wants(inputs: DecisionInput) -> str:
    turns = [t for t in customer_texts(inputs.messages[-50:]) if t.strip()]
    if not turns:
        return "(no customer message)"
    # the first substantive turn says what they came for; the last what they want now
    first = next((t for t in turns if len(t.split()) >= 3), turns[0])
    last = turns[-1]
    if first == last:
        return _first_sentence(last, 30)
    return f"{_first_sentence(first, 18)} / now: {_first_sentence(last, 14)}"


def _tried(inputs: DecisionInput) -> str:
    recent = list(inputs.messages[-200:])
    bot_turns = [m for m in recent if m.role == "bot"]
    parts = [f"{len(bot_turns)} bot repl{'y' if len(bot_turns) == 1 else 'ies'}"]
    fallbacks = sum(m.fallback for m in bot_turns)
    if fallbacks:
        parts.append(f"{fallbacks} fallback(s)")
    failed = [c.name for m in recent for c in m.tool_calls if not c.ok]
    if failed:
        parts.append("failed tools: " + ", ".join(dict.fromkeys(failed)))
    titles = [c.title for m in recent for c in m.citations] + [
        c.title for c in inputs.bot.citations
    ]
    if titles:
        parts.append("cited " + ", ".join(f"“{t[:40]}”" for t in dict.fromkeys(titles)))
    return "; ".join(parts[:4])


def summarise(inputs: DecisionInput, decision: Decision) -> str:
    """The bot's own summary when it fits in 80 words; otherwise one built from the turns."""
    bot_summary = " ".join((inputs.bot.summary or "").split())
    if bot_summary and len(bot_summary.split()) <= SUMMARY_MAX_WORDS:
        return bot_summary
    why = "; ".join(f"{r.trigger} ({_clip_words(r.detail, 10)})" for r in decision.reasons[:2])
    text = f"Wants: {_wants(inputs)}. Tried: {_tried(inputs)}. Why: {why or 'no reason recorded'}."
    return _clip_words(text, SUMMARY_MAX_WORDS)


def broken_guardrails(
    text: str | None, guardrails: Sequence[Guardrail]
) -> list[tuple[str, list[str]]]:
    """``(guardrail id, matched words)`` for each guardrail ``text`` breaks."""
    norm = normalize(text)
    return [(g.id, hits) for g in guardrails if (hits := find_terms(norm, g.forbid))]


_GREETING = {"friendly": ("Hi {name},", "Hi there,"), "formal": ("Dear {name},", "Hello,")}
_ACK = {
    "friendly": "Thanks for explaining: you wrote “{quote}”.",
    "formal": "Thank you for your message, in which you wrote “{quote}”.",
}
_NO_REPEAT = {
    "friendly": "I have the whole conversation, so you won't need to repeat anything.",
    "formal": "I have the full conversation and will not ask you to repeat yourself.",
}
_CITE = {
    "friendly": "This article may help in the meantime: {title}{url}.",
    "formal": "You may find this article useful in the meantime: {title}{url}.",
}
_CLOSE = {"friendly": "I'll get back to you shortly.", "formal": "I will be in touch shortly."}


def draft_from_template(
    inputs: DecisionInput,
    routing: Routing,
    intent: IntentInfo,
    citations: Sequence[Citation],
    settings: PayloadSettings,
) -> str:
    """A draft in the configured tone: greeting, acknowledgement, team or intent body, citation."""
    tone = settings.tone
    first_name = (inputs.customer.name or "").split(" ")[0].strip()
    greeting = _GREETING[tone][0].format(name=first_name) if first_name else _GREETING[tone][1]
    turns = [t for t in customer_texts(inputs.messages[-50:]) if len(t.split()) >= 3]
    lines = [greeting]
    if turns:
        lines.append(_ACK[tone].format(quote=_first_sentence(turns[-1], 25)))
    body = None
    for key in (intent.name, (intent.name or "").split(".")[0], routing.team):
        if key and key in settings.drafts:
            body = settings.drafts[key]
            break
    lines.append(body or settings.drafts["general"])
    lines.append(_NO_REPEAT[tone])
    if citations:
        first = citations[0]
        lines.append(
            _CITE[tone].format(title=first.title, url=f" ({first.url})" if first.url else "")
        )
    lines.append(_CLOSE[tone])
    return " ".join(lines)


_NEXT = {
    "human_request": "Take over now and answer what the customer asked; they asked for a person.",
    "frustration": "Acknowledge the frustration first, then resolve; do not send them back to the bot.",
    "low_confidence": "Confirm what the customer needs; the bot was not sure.",
    "policy_topic": "Check the account and the policy before replying; decide what the bot may not.",
    "customer_tag": "Handle personally: this customer is flagged to skip the bot.",
    "tool_failure": "Look up manually what the bot's tools could not fetch; do not guess.",
    "buying_intent": "Qualify the request and offer a quote, a demo or the next step to buy.",
    "repeated_failure": "Answer the question the bot kept missing; read the rephrasings.",
    "contact_type": "Not a customer: pass to the partner/procurement contact.",
    "bot_recommended": "Review the bot's reason for handing off and take over.",
}


def next_action(
    inputs: DecisionInput,
    decision: Decision,
    routing: Routing,
    replaced: list[tuple[str, list[str]]],
) -> NextAction:
    first = decision.reasons[0] if decision.reasons else None
    action = (
        inputs.bot.next_action
        or (_NEXT.get(first.trigger) if first else None)
        or "Review and reply."
    )
    why = [f"rule {first.rule} ({first.trigger}): {_clip_words(first.detail, 20)}"] if first else []
    if inputs.bot.next_action:
        why.append("action suggested by the bot")
    if routing.available is False and routing.callback_at:
        why.append(
            f"nobody on shift: a follow-up was offered for {routing.callback_at:%Y-%m-%d %H:%M %Z}"
        )
    for guardrail, words in replaced:
        why.append(
            f"the bot's draft was replaced: it broke guardrail {guardrail} ({', '.join(words[:3])})"
        )
    return NextAction(action=action, reasoning="; ".join(why) or "no reason recorded")


def _citations(inputs: DecisionInput) -> list[Citation]:
    out: list[Citation] = list(inputs.bot.citations)
    seen = {(c.title, c.url) for c in out}
    for message in inputs.messages:
        for citation in message.citations:
            if (citation.title, citation.url) not in seen:
                seen.add((citation.title, citation.url))
                out.append(citation)
    return out


def _intent(inputs: DecisionInput, routing: Routing) -> IntentInfo:
    bot = inputs.bot
    if bot.intent:
        return IntentInfo(
            name=bot.intent.name,
            sub_intent=bot.intent.sub_intent,
            confidence=bot.intent.confidence,
            source="bot",
        )
    for message in reversed(inputs.messages[-50:]):
        if message.intent:
            return IntentInfo(name=message.intent, confidence=message.confidence, source="bot")
    if routing.team:
        # The connector's own guess explains itself: which words, rule or model score named the
        # team, and how sure that source was (routing.guess_team).
        return IntentInfo(
            name=routing.team,
            source="connector",
            confidence=routing.team_confidence,
            evidence=[f"{routing.team_source}: {e}" for e in routing.team_evidence]
            or ([f"{routing.team_source}: nothing named a team"] if routing.team_source else []),
        )
    return IntentInfo()


def _lifetime_value(attributes: dict) -> float | None:
    for key in ("lifetime_value", "ltv", "clv"):
        value = attributes.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def build_payload(
    *,
    handoff_id: str,
    inputs: DecisionInput,
    decision: Decision,
    routing: Routing,
    prior_handoffs: int,
    now: datetime,
    transcript_url: str | None,
    policy: PolicySettings | None = None,
    settings: PayloadSettings | None = None,
) -> HandoffPayload:
    """The ``handoff/v1`` payload. ``policy`` supplies the guardrails, ``settings`` the tone."""
    policy = policy or PolicySettings()
    settings = settings or PayloadSettings()
    customer = inputs.customer
    bot = inputs.bot
    citations = _citations(inputs)
    intent = _intent(inputs, routing)
    sentiment = conversation_sentiment(inputs.messages)
    label, learned_cue = learned_sentiment(inputs.messages, policy.model, sentiment.label)
    replaced = broken_guardrails(bot.draft_reply, policy.guardrails) if bot.draft_reply else []
    draft = (
        bot.draft_reply
        if bot.draft_reply and not replaced
        else draft_from_template(inputs, routing, intent, citations, settings)
    )
    return HandoffPayload(
        handoff_id=handoff_id,
        conversation_id=inputs.conversation.id,
        created_at=now,
        summary=summarise(inputs, decision),
        transcript=Transcript(
            turns=[
                TranscriptTurn(id=m.id, role=m.role, text=m.text, at=m.at) for m in inputs.messages
            ],
            url=transcript_url,
        ),
        customer=CustomerProfile(
            id=customer.id,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            channel=inputs.conversation.channel,
            language=inputs.conversation.language,
            tier=customer.tier,
            tags=customer.tags,
            prior_handoffs=prior_handoffs,
            lifetime_value=_lifetime_value(customer.attributes),
            attributes=customer.attributes,
        ),
        intent=intent,
        sentiment=SentimentInfo.model_validate(
            {
                "label": label,
                "score": max(-1.0, min(1.0, sentiment.score)),
                "trend": sentiment.trend,
                "cues": [*sentiment.cues, *([learned_cue] if learned_cue else [])],
                "thresholds": sentiment_thresholds(sentiment),
            }
        ),
        escalation=Escalation(
            reasons=decision.reasons,
            rules=[r.rule for r in decision.reasons],
            policy_version=decision.policy_version,
            bot_recommendation=bot.recommend_handoff.reason if bot.recommend_handoff else None,
        ),
        citations=citations,
        draft_reply=draft,
        next_action=next_action(inputs, decision, routing, replaced),
        routing=routing,
    )
