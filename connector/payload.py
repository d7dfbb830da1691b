"""Decision + conversation → ``handoff/v1`` payload. Pure: no store, no HTTP, no clock read."""

from __future__ import annotations

from datetime import datetime

from connector.policy import DecisionInput
from connector.schemas import (
    Citation,
    CustomerProfile,
    Decision,
    Escalation,
    HandoffPayload,
    IntentInfo,
    NextAction,
    Routing,
    Transcript,
    TranscriptTurn,
)

SUMMARY_MAX_WORDS = 80


def _clip_words(text: str, limit: int) -> str:
    words = text.split()
    return text.strip() if len(words) <= limit else " ".join(words[:limit]).rstrip(",;:") + "…"


def summarise(inputs: DecisionInput, decision: Decision) -> str:
    """The bot's own summary when it fits in 80 words; otherwise one built from the turns."""
    bot_summary = (inputs.bot.summary or "").strip()
    if bot_summary and len(bot_summary.split()) <= SUMMARY_MAX_WORDS:
        return bot_summary
    customer_turns = [m.text.strip() for m in inputs.messages if m.role == "customer" and m.text.strip()]
    wants = customer_turns[-1] if customer_turns else "(no customer message)"
    why = "; ".join(r.detail or r.trigger for r in decision.reasons) or "no reason recorded"
    bot_turns = sum(1 for m in inputs.messages if m.role == "bot")
    text = f"Customer: {_clip_words(wants, 40)} Bot replied {bot_turns} time(s). Escalated: {why}."
    return _clip_words(text, SUMMARY_MAX_WORDS)


def build_payload(*, handoff_id: str, inputs: DecisionInput, decision: Decision, routing: Routing,
                  prior_handoffs: int, now: datetime, transcript_url: str | None) -> HandoffPayload:
    customer = inputs.customer
    bot = inputs.bot
    citations: list[Citation] = list(bot.citations)
    seen = {(c.title, c.url) for c in citations}
    for message in inputs.messages:
        for citation in message.citations:
            if (citation.title, citation.url) not in seen:
                seen.add((citation.title, citation.url))
                citations.append(citation)
    intent = (
        IntentInfo(name=bot.intent.name, sub_intent=bot.intent.sub_intent,
                   confidence=bot.intent.confidence, source="bot")
        if bot.intent else IntentInfo()
    )
    next_action = None
    if bot.next_action:
        next_action = NextAction(action=bot.next_action, reasoning="suggested by the bot")
    return HandoffPayload(
        handoff_id=handoff_id,
        conversation_id=inputs.conversation.id,
        created_at=now,
        summary=summarise(inputs, decision),
        transcript=Transcript(
            turns=[TranscriptTurn(id=m.id, role=m.role, text=m.text, at=m.at) for m in inputs.messages],
            url=transcript_url,
        ),
        customer=CustomerProfile(
            id=customer.id, name=customer.name, email=customer.email, phone=customer.phone,
            channel=inputs.conversation.channel, language=inputs.conversation.language,
            tier=customer.tier, tags=customer.tags, prior_handoffs=prior_handoffs,
            attributes=customer.attributes,
        ),
        intent=intent,
        escalation=Escalation(
            reasons=decision.reasons, rules=[r.rule for r in decision.reasons],
            policy_version=decision.policy_version,
            bot_recommendation=bot.recommend_handoff.reason if bot.recommend_handoff else None,
        ),
        citations=citations,
        draft_reply=bot.draft_reply,
        next_action=next_action,
        routing=routing,
    )
