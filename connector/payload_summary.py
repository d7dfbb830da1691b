"""The extractive summary: the note an agent reads in eight seconds. Pure, no model.

One paragraph of at most 80 words, in four parts, each left out when there is nothing to say:

- **Customer**: the customer's own sentences that carry the request (the ones with references,
  amounts, dates, product names or a request verb), verbatim; key facts from other turns follow.
  Sentences that only insult the bot, swear, ask for a person or say one word are left out.
- **Bot**: what the bot tried: how many answers, how many it did not understand, the articles it
  cited, the lookups that failed.
- **Needs a person**: the reasons in an agent's words ("asked for a person", "refund request"),
  never rule ids or scores: those stay in ``escalation`` and the audit.
- **Mood**: only when it matters (frustrated, disengaged, getting worse).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from connector.policy import DecisionInput
from connector.schemas import Decision, Reason
from connector.signals.facts import key_facts
from connector.signals.failures import says_it_failed
from connector.signals.human_request import detect_human_request
from connector.signals.sentiment import (
    DEFAULT_PROFANITY,
    DEFAULT_REJECTION_TERMS,
    DEFAULT_SARCASM_TERMS,
    Sentiment,
)
from connector.signals.text import customer_texts, find_terms, normalize

SUMMARY_MAX_WORDS = 80
WANTS_MAX_WORDS = 40
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")
_DOUBLED = re.compile(r"([.!?…])[.!?…]+")
# Words that say what is wrong or what they want done, in the languages we read: a sentence with
# one carries the request. Verbs of wanting alone do not ("I want to talk to a person").
_TOPIC_TERMS: tuple[str, ...] = (
    "refund*", "cancel*", "return*", "replace*", "money back", "charged", "broken", "damaged",
    "missing", "never arrived", "not arrived", "hasn't arrived", "didn't arrive", "wrong", "lost",
    "reembolso", "devol*", "cancelar", "roto", "rota", "cobr*", "rembours*", "annuler", "casse*",
    "erstatt*", "kaputt", "storn*", "quebrad*", "rimbors*", "rotto", "annull*", "terugbetal*",
    "kapot", "annuleren",
)  # fmt: skip
_WANT_TERMS: tuple[str, ...] = (
    "want*", "need*", "would like", "i'd like", "can you", "could you", "help", "quiero",
    "necesito", "je veux", "j'ai besoin", "ich mochte", "ich brauche", "preciso", "voglio",
    "ik wil",
)  # fmt: skip
_ABUSE = (*DEFAULT_PROFANITY, *DEFAULT_REJECTION_TERMS, *DEFAULT_SARCASM_TERMS)

TOPIC_WORDS = {
    "refund": "refund request",
    "billing": "billing problem",
    "complaint": "complaint",
    "legal": "legal question",
    "medical": "medical question",
    "privacy": "personal data request",
    "supplier": "a supplier, not a customer",
    "contractor": "a contractor, not a customer",
}
_TRIGGER_WORDS = {
    "frustration": "customer is frustrated",
    "low_confidence": "the bot was unsure what they want",
    "customer_tag": "customer is flagged to skip the bot",
    "tool_failure": "a lookup failed",
    "buying_intent": "wants to buy",
    "repeated_failure": "the bot kept failing to answer",
    "bot_recommended": "the bot asked for a person",
}
_ORDINALS = ("", "", "second", "third", "fourth", "fifth")


def _groups(detail: str) -> list[str]:
    """The topic groups named in a ``policy_topic``/``contact_type`` detail ("refund: 'x'; …")."""
    return [part.split(":", 1)[0].strip() for part in detail.split("; ") if ":" in part]


def _failed_answers(inputs: DecisionInput) -> int:
    """Bot turns that failed: flagged as fallbacks, or saying so ("I didn't understand")."""
    return sum(
        bool(m.fallback or says_it_failed(m.text)) for m in inputs.messages[-50:] if m.role == "bot"
    )


def reason_words(reason: Reason, inputs: DecisionInput) -> list[str]:
    """What one fired rule means, as an agent would say it."""
    trigger = reason.trigger
    if trigger == "human_request":
        return ["rejected the bot" if "rejected the bot" in reason.detail else "asked for a person"]
    if trigger in ("policy_topic", "contact_type"):
        return [TOPIC_WORDS.get(g, f"{g} question") for g in _groups(reason.detail)]
    if trigger == "repeated_failure":
        failed = _failed_answers(inputs)
        if 2 <= failed < len(_ORDINALS):
            return [f"{_ORDINALS[failed]} failed answer"]
        return [_TRIGGER_WORDS[trigger]]
    if trigger == "bot_recommended" and inputs.bot.recommend_handoff:
        why = inputs.bot.recommend_handoff.reason
        return [
            f"the bot asked for a person ({_clip(why, 8)})" if why else "the bot asked for a person"
        ]
    if trigger == "model":
        topic = reason.rule.removeprefix("model_")
        return [f"looks like {TOPIC_WORDS.get(topic, topic.replace('_', ' '))} (learned model)"]
    return [_TRIGGER_WORDS.get(trigger, trigger.replace("_", " "))]


def why_words(decision: Decision, inputs: DecisionInput) -> list[str]:
    words = [w for r in decision.reasons for w in reason_words(r, inputs)]
    return list(dict.fromkeys(words))


def _clip(text: str | None, limit: int) -> str:
    words = (text or "").split()
    return " ".join(words) if len(words) <= limit else " ".join(words[:limit]).rstrip(",;:.") + "…"


def tidy(text: str) -> str:
    """One space between words and one mark at the end of a sentence ("Useless.." → "Useless.")."""
    return _DOUBLED.sub(r"\1", " ".join(text.split()))


def _sentence(text: str) -> str:
    text = tidy(text).strip()
    return text if not text or text[-1] in ".!?…" else text + "."


@dataclass
class _Sentence:
    """One sentence of the customer's, with what is read of it, each read at most once."""

    text: str
    facts: tuple[str, ...]
    _topic: bool | None = None

    @property
    def topic(self) -> bool:
        """Whether it says what is wrong or what they want done (``_TOPIC_TERMS``)."""
        if self._topic is None:
            self._topic = bool(find_terms(normalize(self.text), _TOPIC_TERMS))
        return self._topic


def _worth_keeping(sentence: _Sentence) -> bool:
    if sentence.facts:
        return True
    if len(sentence.text.split()) < 3:
        return False
    if find_terms(normalize(sentence.text), _ABUSE):
        return False
    if sentence.topic or len(sentence.text.split()) > 20:
        return True  # it says what is wrong, or more than who they want to talk to
    return not detect_human_request(sentence.text).requested


def _score(sentence: _Sentence) -> float:
    return (
        3 * len(sentence.facts)
        + 2 * sentence.topic
        + bool(find_terms(normalize(sentence.text), _WANT_TERMS))
        + min(len(sentence.text.split()), 15) / 15
    )


def wants(inputs: DecisionInput, budget: int = WANTS_MAX_WORDS) -> str:
    """The customer's sentences that carry the request, verbatim, and key facts said elsewhere."""
    turns = [t for t in customer_texts(inputs.messages[-50:]) if t.strip()]
    # what they came for is in the first turns, what they want now in the last ones
    turns = turns if len(turns) <= 10 else [*turns[:2], *turns[-8:]]
    sentences = [
        s.strip()
        for t in turns
        for s in _SENTENCE.split(" ".join(t.split()[:400]))  # a 100 KB paste is not a request
        if s.strip()
    ]
    read = [_Sentence(s, key_facts(s).all()) for s in sentences]
    kept = [(i, s) for i, s in enumerate(sentences) if _worth_keeping(read[i])]
    ranked = sorted(kept, key=lambda item: -_score(read[item[0]]))
    chosen: list[tuple[int, str]] = []
    used = 0
    for i, sentence in ranked[:3]:
        words = len(sentence.split())
        if chosen and used + words > budget:
            continue
        chosen.append((i, _clip(sentence, budget)))
        used += min(words, budget)
    text = " ".join(_sentence(s) for _, s in sorted(chosen))
    missing = [f for f in key_facts(turns).all() if f not in text][:4]
    if missing:
        text += f" Also mentioned: {', '.join(missing)}."
    return text


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def tried(inputs: DecisionInput) -> str:
    recent = list(inputs.messages[-50:])
    answers = [m for m in recent if m.role == "bot"]
    parts: list[str] = []
    if answers:
        count = len(answers)
        parts.append(f"answered {_times(count)}")
    failed_answers = _failed_answers(inputs)
    if failed_answers:
        parts.append(f"did not understand {_times(failed_answers)}")
    titles = list(
        dict.fromkeys(
            [c.title for m in recent for c in m.citations] + [c.title for c in inputs.bot.citations]
        )
    )
    if titles:
        parts.append("cited " + ", ".join(f"“{_clip(t, 6)}”" for t in titles[:2]))
    failed = list(dict.fromkeys(c.name for m in recent for c in m.tool_calls if not c.ok))
    if failed:
        parts.append(f"lookup {', '.join(failed[:3])} failed")
    return ", ".join(parts)


def mood(sentiment: Sentiment) -> str:
    """The customer's mood when it changes how the agent should open; empty otherwise."""
    words = {"Frustrated": "frustrated", "Uninterested": "disengaged"}.get(sentiment.label, "")
    if sentiment.trend == "worsening":
        words = f"{words}, getting worse" if words else "getting worse"
    return words


def extractive_summary(
    inputs: DecisionInput,
    decision: Decision,
    sentiment: Sentiment,
    *,
    bot_tried: str | None = None,
    why: list[str] | None = None,
) -> str:
    """The four-part note, at most ``SUMMARY_MAX_WORDS`` words (``bot_tried``: ``tried(inputs)``,
    ``why``: ``why_words(decision, inputs)``, when the caller has them already)."""
    parts: list[str] = []
    want = wants(inputs)
    parts.append(f"Customer: {want}" if want else "Customer: no request in their own words.")
    bot = tried(inputs) if bot_tried is None else bot_tried
    if bot:
        parts.append(f"Bot {bot}.")
    why = why_words(decision, inputs) if why is None else why
    if why:
        parts.append(f"Needs a person: {', '.join(why)}.")
    feeling = mood(sentiment)
    if feeling:
        parts.append(f"Mood: {feeling}.")
    text = tidy(" ".join(parts))
    words = text.split()
    if len(words) <= SUMMARY_MAX_WORDS:
        return text
    # too long: the customer's part gives way, the reasons stay
    tail = tidy(" ".join(parts[1:]))
    room = max(10, SUMMARY_MAX_WORDS - len(tail.split()) - 1)
    head = "Customer: " + _clip(wants(inputs, room - 1), room - 1)
    return _clip(tidy(f"{_sentence(head)} {tail}"), SUMMARY_MAX_WORDS)
