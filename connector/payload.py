"""Decision + conversation → ``handoff/v1`` payload. Pure: no store, no HTTP, no clock read.

- Summary: the bot's own when it sends one of at most 80 words; otherwise the extractive note of
  :mod:`connector.payload_summary` (what they want, what the bot tried, why a person, mood).
- Draft reply: the bot's when it breaks no guardrail; otherwise one in the conversation's language
  (:mod:`connector.payload_text`; English, said so in ``language.note``, for one we cannot write)
  and the configured tone, that apologises in our words, names the reference the customer gave,
  the team's line and the cited article. It never quotes the customer.
- Next action: what to do first for the most specific reason that fired, with the reference, and
  the facts it used as reasoning.
  Guardrails (``policy.guardrails``) are words a draft must never contain, such as a refund
  promise: a bot draft that breaks one is replaced, and the next action says so.
- Text is kept as the customer wrote it; every surface that renders it must escape it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from connector.learned.advice import learned_sentiment
from connector.payload_summary import (
    SUMMARY_MAX_WORDS,
    extractive_summary,
    mood,
    tidy,
    tried,
    why_words,
)
from connector.payload_text import DRAFT_LANGUAGES, LINES, line
from connector.policy import DecisionInput
from connector.policy_config import DEFAULT_DRAFTS, Guardrail, PayloadSettings, PolicySettings
from connector.schemas import (
    Citation,
    CustomerProfile,
    Decision,
    Escalation,
    HandoffPayload,
    IntentInfo,
    NextAction,
    PayloadLanguage,
    Reason,
    Routing,
    SentimentInfo,
    Transcript,
    TranscriptTurn,
)
from connector.signals import conversation_sentiment
from connector.signals.facts import Facts, key_facts
from connector.signals.language import base_language
from connector.signals.sentiment import Sentiment, sentiment_thresholds
from connector.signals.text import customer_texts, find_terms, normalize
from connector.signals.topics import policy_topics

__all__ = ["SUMMARY_MAX_WORDS", "build_payload", "draft_from_template", "next_action", "summarise"]


def summarise(
    inputs: DecisionInput,
    decision: Decision,
    sentiment: Sentiment | None = None,
    *,
    bot_tried: str | None = None,
    why: list[str] | None = None,
) -> str:
    """The bot's own summary when it fits in 80 words; otherwise the extractive note
    (:mod:`connector.payload_summary`): what the customer wants, what the bot tried, why a person
    is needed, and the mood when it matters. ``bot_tried`` (``tried``) and ``why``
    (``why_words``) are passed when the caller has them already."""
    bot_summary = " ".join((inputs.bot.summary or "").split())
    if bot_summary and len(bot_summary.split()) <= SUMMARY_MAX_WORDS:
        return bot_summary
    sentiment = sentiment or conversation_sentiment(inputs.messages)
    return extractive_summary(inputs, decision, sentiment, bot_tried=bot_tried, why=why)


def broken_guardrails(
    text: str | None, guardrails: Sequence[Guardrail]
) -> list[tuple[str, list[str]]]:
    """``(guardrail id, matched words)`` for each guardrail ``text`` breaks."""
    norm = normalize(text)
    return [(g.id, hits) for g in guardrails if (hits := find_terms(norm, g.forbid))]


def draft_language(language: str | None) -> tuple[str, bool]:
    """(language the draft is written in, True when the conversation's language is one we cannot
    write and the draft falls back to English)."""
    base = base_language(language, "en")
    return (base, False) if base in DRAFT_LANGUAGES else ("en", True)


def _body(lang: str, keys: Sequence[str | None], settings: PayloadSettings) -> str:
    """The team's or intent's line: ``payload.drafts`` (``es:billing`` for Spanish, a plain key for
    English), else the built-in line of the language, else its general line."""
    for key in (k for k in keys if k):
        configured = settings.drafts.get(f"{lang}:{key}") or (
            settings.drafts.get(key) if lang == "en" else None
        )
        if configured:
            return configured
        if key in DEFAULT_DRAFTS and key in LINES[lang]:
            return line(lang, key, settings.tone)
    general = settings.drafts.get(f"{lang}:general")
    return general or (settings.drafts["general"] if lang == "en" else line(lang, "general", ""))


_NO_APOLOGY = frozenset({"buying_intent", "contact_type"})


def draft_from_template(
    inputs: DecisionInput,
    routing: Routing,
    intent: IntentInfo,
    citations: Sequence[Citation],
    settings: PayloadSettings,
    decision: Decision | None = None,
    *,
    facts: Facts | None = None,
) -> str:
    """A draft in the conversation's language and the configured tone: greeting, an apology in our
    own words naming what the bot learned (never the customer's words back), the team's or
    intent's line, the article the bot cited, a close. ``facts`` are the key facts of the
    customer's recent turns (``recent_facts``) when the caller has them already."""
    tone = settings.tone
    lang, _ = draft_language(inputs.conversation.language)
    first_name = (inputs.customer.name or "").split(" ")[0].strip()
    lines = [
        line(lang, "greet", tone).format(name=first_name)
        if first_name
        else line(lang, "greet_anon", tone)
    ]
    triggers = {r.trigger for r in decision.reasons} if decision else set()
    if not triggers & _NO_APOLOGY and routing.team not in ("sales", "partners"):
        ref = (recent_facts(inputs) if facts is None else facts).reference
        lines.append(
            line(lang, "sorry_ref", tone).format(ref=ref) if ref else line(lang, "sorry", tone)
        )
        if triggers & {"frustration", "repeated_failure"}:
            lines.append(line(lang, "sorry_chat", tone))
    lines.append(
        _body(lang, (intent.name, (intent.name or "").split(".")[0], routing.team), settings)
    )
    lines.append(line(lang, "no_repeat", tone))
    if citations:
        first = citations[0]
        url = f" ({first.url})" if first.url else ""
        lines.append(line(lang, "cite", tone).format(title=first.title, url=url))
    lines.append(line(lang, "close", tone))
    return tidy(" ".join(lines))


_TOPIC_ACTIONS = {
    "refund": "Refund request{for_ref}: check the order and approve or decline what they asked for "
    "({words}); only a person may promise a refund",
    "billing": "Billing problem{for_ref}: check the charges in billing ({words}) and correct what is "
    "wrong",
    "complaint": "Complaint{for_ref}: answer it personally and offer what the policy allows",
    "privacy": "Personal data request: verify who they are, then follow the privacy process",
    "legal": "Legal question: answer it yourself or pass it to legal; the bot may not",
    "medical": "Medical question: answer it yourself or pass it to a qualified colleague",
    "supplier": "Not a customer (a supplier): pass to the partner or procurement contact",
    "contractor": "Not a customer (a contractor): pass to the partner or procurement contact",
}
_ACTIONS = {
    "human_request": "They asked for a person: take over now and answer their request{for_ref}",
    "frustration": "Acknowledge the frustration first, then resolve it{for_ref}; do not send them "
    "back to the bot",
    "tool_failure": "Look up{ref} manually ({tools} failed for the bot); do not guess",
    "repeated_failure": "Answer the question the bot kept missing{for_ref}; read their rephrasings",
    "low_confidence": "Confirm what they need: the bot was unsure{intent}",
    "buying_intent": "Qualify the request and offer a quote, a demo or the next step to buy",
    "customer_tag": "Handle personally: this customer is flagged to skip the bot",
    "bot_recommended": "Review the bot's reason for handing off and take over",
    "model": "Read the conversation and take over: the learned model expects a person is needed",
}
# which fired reason names the action: the most specific first
_ORDER = ("policy_topic", "contact_type", "tool_failure", "repeated_failure", "human_request",
          "frustration", "low_confidence", "buying_intent", "customer_tag", "bot_recommended",
          "model")  # fmt: skip


def _topic_words(detail: str) -> dict[str, str]:
    """{group: "'a', 'b'"} from a ``policy_topic`` detail."""
    out = {}
    for part in detail.split("; "):
        group, _, words = part.partition(":")
        if words:
            out[group.strip()] = words.strip()
    return out


def _action(reason: Reason, inputs: DecisionInput, ref: str | None) -> str:
    template, words = _ACTIONS.get(reason.trigger, "Review and reply"), ""
    if reason.trigger in ("policy_topic", "contact_type"):
        for group, found in _topic_words(reason.detail).items():
            if group in _TOPIC_ACTIONS:
                template, words = _TOPIC_ACTIONS[group], found
                break
    fill = {
        "words": words,
        "for_ref": f" for {ref}" if ref else "",
        "ref": f" {ref}" if ref else " what the bot could not fetch",
    }
    if "{tools}" in template:  # only then: it reads up to 200 messages
        fill["tools"] = (
            ", ".join(
                dict.fromkeys(
                    c.name for m in inputs.messages[-200:] for c in m.tool_calls if not c.ok
                )
            )
            or "a tool"
        )
    if "{intent}" in template:
        fill["intent"] = (
            f" (it guessed {inputs.bot.intent.name})"
            if inputs.bot.intent and inputs.bot.intent.name
            else ""
        )
    return template.format(**fill)


_GENERAL = frozenset(
    {
        "human_request",
        "frustration",
        "repeated_failure",
        "low_confidence",
        "bot_recommended",
        "model",
    }
)


def _earlier_topic(texts: Sequence[str]) -> Reason | None:
    """A policy topic anywhere in the customer's recent turns (``texts``; the rules read only the
    new ones): what a customer who asks for a person, or is frustrated, came about."""
    found = policy_topics("\n".join(texts[-10:]))
    if not found.matched:
        return None
    detail = "; ".join(
        f"{group}: {', '.join(repr(w[:60]) for w in words[:4])}" for group, words in found.matches
    )
    return Reason(trigger="policy_topic", rule="", detail=detail)


def _facts_used(
    inputs: DecisionInput, reasons: Sequence[Reason], key: Facts, summary_bot: str
) -> list[str]:
    facts = key.all()
    used = [f"the customer wrote {', '.join(facts[:4])}"] if facts else []
    for reason in reasons:
        if reason.trigger == "policy_topic":
            words = "; ".join(f"{g} {w}" for g, w in _topic_words(reason.detail).items())
            used.append(f"their words: {_clip_words(words, 12)}")
    if summary_bot:
        used.append(f"the bot {summary_bot}")
    return used


def next_action(
    inputs: DecisionInput,
    decision: Decision,
    routing: Routing,
    replaced: list[tuple[str, list[str]]],
    sentiment: Sentiment | None = None,
    *,
    texts: Sequence[str] | None = None,
    facts: Facts | None = None,
    bot_tried: str | None = None,
    why_person: list[str] | None = None,
) -> NextAction:
    """What the agent should do first, specific to the case, and the facts that led to it.
    ``texts`` (``recent_texts``), ``facts`` (their key facts), ``bot_tried`` (``tried``) and
    ``why_person`` (``why_words``) are passed when the caller has them already."""
    texts = recent_texts(inputs) if texts is None else texts
    facts = key_facts(texts) if facts is None else facts
    ref = facts.reference
    ranked = sorted(
        decision.reasons,
        key=lambda r: _ORDER.index(r.trigger) if r.trigger in _ORDER else len(_ORDER),
    )
    first = ranked[0] if ranked else None
    earlier = _earlier_topic(texts) if first is not None and first.trigger in _GENERAL else None
    first = earlier or first
    action = inputs.bot.next_action or (
        _action(first, inputs, ref) if first else "Review and reply"
    )
    triggers = {r.trigger for r in decision.reasons}
    extra = []
    if first and first.trigger != "frustration" and "frustration" in triggers:
        extra.append("They are frustrated: apologise once before anything else")
    if first and first.trigger != "human_request" and "human_request" in triggers:
        extra.append("They asked for a person: reply now")
    action = tidy(". ".join([action.rstrip("."), *extra]) + ".")
    why = _facts_used(
        inputs,
        [*decision.reasons, *([earlier] if earlier else [])],
        facts,
        tried(inputs) if bot_tried is None else bot_tried,
    )
    feeling = mood(sentiment) if sentiment else ""
    if feeling:
        why.append(f"mood {feeling}")
    if decision.reasons:
        person = why_words(decision, inputs) if why_person is None else why_person
        why.append(f"needs a person: {', '.join(person)}")
        raised = f", raised to {decision.priority} by rule {decision.priority_rule}"
        why.append(
            f"rule {decision.rule or decision.reasons[0].rule} decided"
            + (raised if decision.priority_rule and decision.priority_rule != decision.rule else "")
        )
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


def recent_texts(inputs: DecisionInput) -> list[str]:
    """The customer's turns among the last 50 messages: what the draft, the next action and the
    summary's facts read."""
    return customer_texts(inputs.messages[-50:])


def recent_facts(inputs: DecisionInput) -> Facts:
    """The key facts of :func:`recent_texts`."""
    return key_facts(recent_texts(inputs))


def _clip_words(text: str, limit: int) -> str:
    words = text.split()
    return " ".join(words) if len(words) <= limit else " ".join(words[:limit]).rstrip(",;:.") + "…"


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
    language_source: Literal["bot", "detected"] | None = None,
) -> HandoffPayload:
    """The ``handoff/v1`` payload. ``policy`` supplies the guardrails, ``settings`` the tone;
    ``language_source`` says where the conversation's language came from (bot or detected)."""
    policy = policy or PolicySettings()
    settings = settings or PayloadSettings()
    customer = inputs.customer
    bot = inputs.bot
    citations = _citations(inputs)
    intent = _intent(inputs, routing)
    # read once, for the summary, the draft and the next action
    texts = recent_texts(inputs)
    facts = key_facts(texts)
    bot_tried = tried(inputs)
    why = why_words(decision, inputs)
    sentiment = conversation_sentiment(inputs.messages)
    label, learned_cue = learned_sentiment(inputs.messages, policy.model, sentiment.label)
    replaced = broken_guardrails(bot.draft_reply, policy.guardrails) if bot.draft_reply else []
    own_draft = bool(bot.draft_reply and not replaced)
    draft = (
        bot.draft_reply
        if own_draft
        else draft_from_template(
            inputs, routing, intent, citations, settings, decision, facts=facts
        )
    )
    written_in, fallback = draft_language(inputs.conversation.language)
    return HandoffPayload(
        handoff_id=handoff_id,
        conversation_id=inputs.conversation.id,
        created_at=now,
        summary=summarise(inputs, decision, sentiment, bot_tried=bot_tried, why=why),
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
            priority=decision.priority,
            priority_rule=decision.priority_rule,
        ),
        citations=citations,
        draft_reply=draft,
        next_action=next_action(
            inputs,
            decision,
            routing,
            replaced,
            sentiment,
            texts=texts,
            facts=facts,
            bot_tried=bot_tried,
            why_person=why,
        ),
        routing=routing,
        language=PayloadLanguage(
            conversation=inputs.conversation.language,
            source=language_source,
            draft=None if own_draft else written_in,
            note=(
                f"the draft is in English: we have no draft lines in "
                f"{inputs.conversation.language!r}"
                if fallback and not own_draft and inputs.conversation.language
                else None
            ),
        ),
    )
