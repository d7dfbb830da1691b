"""The optional model-written summary, draft reply and next action: the pure parts.

``payload.generator`` points at any OpenAI-compatible chat-completions endpoint (a hosted one, or
a local vLLM, llama.cpp or Ollama server: docs/generator.md). The handoff never waits for it: the
ticket is created with the extractive payload (``connector.payload``) and a ``Generate`` outbox
row asks the worker (``connector.generating``) to call the model; what comes back replaces the
summary, draft and next action, and reaches each destination as an update and a note.

Here, without I/O: the settings, the request body (``build_request``: personal data masked by
``connector.masking``), and the reading of the answer (``read_completion``): JSON with
``summary`` (at most 80 words), ``draft_reply``, ``next_action`` and ``reasoning``, validated with
pydantic, placeholders restored, guardrails checked. Anything else raises ``InvalidOutput`` and is
discarded; the extractive content stays.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connector.generator_config import GeneratorSettings
from connector.masking import Masker
from connector.payload import broken_guardrails
from connector.policy_config import Guardrail
from connector.schemas import HandoffPayload
from connector.signals.language import DEFAULT_LANGUAGE_WORDS, base_language, detect_language

SUMMARY_MAX_WORDS = 80
MAX_TURNS = 40  # the most recent turns sent to the model
MAX_TURN_CHARS = 1500
LANGUAGES = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "pt": "Portuguese",
    "it": "Italian", "nl": "Dutch", "ca": "Catalan", "pl": "Polish", "sv": "Swedish",
    "da": "Danish", "no": "Norwegian", "fi": "Finnish", "tr": "Turkish", "ja": "Japanese",
}  # fmt: skip


class InvalidOutput(ValueError):
    """The model's answer is not what the prompt asked for; ``reason`` is a short, PII-free slug."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class Generated(BaseModel):
    """What the model must answer, and what replaces the extractive fields."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    summary: str = Field(min_length=1, max_length=2000)
    draft_reply: str = Field(min_length=1, max_length=4000)
    next_action: str = Field(min_length=1, max_length=1000)
    reasoning: str = Field(min_length=1, max_length=2000)

    @field_validator("summary")
    @classmethod
    def _short(cls, summary: str) -> str:
        if len(summary.split()) > SUMMARY_MAX_WORDS:
            raise ValueError(f"more than {SUMMARY_MAX_WORDS} words")
        return summary


PLACEHOLDER_KINDS = {"name": "CUSTOMER", "email": "EMAIL", "phone": "PHONE"}


def masked_values(customer: dict[str, Any], fields: Sequence[str]) -> list[tuple[str, str]]:
    """The configured customer values to mask, with their placeholder kind (``attributes.<key>``
    reads the attributes)."""
    values = []
    for name in fields:
        if name.startswith("attributes."):
            value = (customer.get("attributes") or {}).get(name.split(".", 1)[1])
        else:
            value = customer.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            values.append((PLACEHOLDER_KINDS.get(name, "FIELD"), str(value)))
    return values


def language_name(code: str | None) -> str:
    base = base_language(code, "en")
    return LANGUAGES.get(base, "English")


_SYSTEM = """You help a customer-support agent who is taking over a conversation from a chatbot.
Answer with one JSON object and nothing else, with these string keys:
- "summary": at most {words} words, plain language, for the agent: what the customer wants (keep
  order numbers, amounts, dates and product names exactly as written), what the bot already tried,
  and why a person is needed. No rule ids, no scores.
- "draft_reply": the agent's first message to the customer, written in {language}, in a {tone}
  tone. Acknowledge the issue in your own words; never quote insults or complaints back; use what
  is already known so the customer need not repeat it; never promise {forbidden}.
- "next_action": the agent's next step, specific to this case.
- "reasoning": one sentence naming the facts the next action rests on.
Placeholders such as [EMAIL_1] or [CUSTOMER_1] stand for personal data: copy them unchanged where
needed and never invent new ones."""


def _forbidden(guardrails: Sequence[Guardrail]) -> str:
    words = [w for g in guardrails for w in g.forbid if not w.startswith("re:")][:8]
    notes = "; ".join(g.note for g in guardrails if g.note)
    said = ", ".join(f'"{w.rstrip("*")}"' for w in words)
    return (
        "anything the policy forbids"
        + (f" ({notes})" if notes else "")
        + (f"; never write {said}" if said else "")
    )


def prompt_text(payload: HandoffPayload, masker: Masker) -> str:
    """The user message: the case as the agent would see it, masked."""
    turns = payload.transcript.turns[-MAX_TURNS:]
    lines = [f"Conversation language: {language_name(payload.customer.language)}"]
    if payload.customer.name:
        lines.append(f"Customer name: {payload.customer.name}")
    if payload.customer.tier:
        lines.append(f"Customer tier: {payload.customer.tier}")
    if payload.routing.team:
        lines.append(f"Team: {payload.routing.team}")
    reasons = "; ".join(f"{r.trigger} ({r.detail})" for r in payload.escalation.reasons)
    lines.append(f"Why the bot handed over: {reasons or 'the bot asked for a person'}")
    if payload.citations:
        lines.append("Articles the bot cited: " + "; ".join(c.title for c in payload.citations))
    lines.append(f"Connector's own summary: {payload.summary}")
    if payload.next_action:
        lines.append(f"Connector's own next action: {payload.next_action.action}")
    lines.append("Transcript (oldest first):")
    lines += [f"{t.role}: {' '.join(t.text.split())[:MAX_TURN_CHARS]}" for t in turns]
    return masker.mask("\n".join(lines))


def build_request(
    payload: HandoffPayload,
    settings: GeneratorSettings,
    masker: Masker,
    *,
    tone: str,
    guardrails: Sequence[Guardrail],
) -> dict[str, Any]:
    """The chat-completions request body (OpenAI's ``CreateChatCompletionRequest``)."""
    system = _SYSTEM.format(
        words=SUMMARY_MAX_WORDS,
        language=language_name(payload.customer.language or payload.routing.language),
        tone=tone,
        forbidden=_forbidden(guardrails),
    )
    body: dict[str, Any] = {
        "model": settings.model,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": prompt_text(payload, masker)},
        ],
        settings.max_tokens_field: settings.max_tokens,
        "temperature": settings.temperature,
    }
    if settings.json_mode:
        body["response_format"] = {"type": "json_object"}
    return body


def _content(body: Any) -> str:
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise InvalidOutput("no-content", "the answer has no choices[0].message.content") from None
    if not isinstance(content, str) or not content.strip():
        raise InvalidOutput("no-content", "the message content is empty")
    return content.strip()


def _json_object(content: str) -> Any:
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", content, flags=re.DOTALL)
    text = fenced.group(1) if fenced else content
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise InvalidOutput("not-json", "no JSON object in the answer")
    try:
        return json.loads(text[start : end + 1])
    except ValueError:
        raise InvalidOutput("not-json", "the answer is not valid JSON") from None


def read_completion(
    body: Any, masker: Masker, *, guardrails: Sequence[Guardrail], language: str | None = None
) -> Generated:
    """The validated, unmasked result of a chat-completions answer; ``InvalidOutput`` otherwise.
    ``language``: the conversation's; a draft that reads clearly as another language we can
    tell apart (``signals.language``) is refused, since the prompt asked for this one."""
    data = _json_object(_content(body))
    try:
        generated = Generated.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "<root>" for e in exc.errors())
        raise InvalidOutput("schema", f"fails the schema at {fields}") from None
    texts = generated.model_dump()
    strays = [p for text in texts.values() for p in masker.strays(text)]
    if strays:
        raise InvalidOutput("invented-placeholder", f"{len(strays)} unknown placeholder(s)")
    restored = Generated.model_validate({k: masker.unmask(v) for k, v in texts.items()})
    broken = broken_guardrails(restored.draft_reply, guardrails)
    if broken:
        raise InvalidOutput("guardrail", "the draft breaks " + ", ".join(g for g, _ in broken))
    expected = base_language(language)
    if expected in DEFAULT_LANGUAGE_WORDS:
        written = detect_language(restored.draft_reply).language
        if written is not None and written != expected:
            raise InvalidOutput("language", f"the draft reads as {written}, not {expected}")
    return restored


def apply(payload: dict[str, Any], generated: Generated, *, model: str, at: str) -> dict[str, Any]:
    """The stored payload with the model's summary, draft and next action in place."""
    return {
        **payload,
        "summary": generated.summary,
        "draft_reply": generated.draft_reply,
        "next_action": {"action": generated.next_action, "reasoning": generated.reasoning},
        "generator": {"model": model, "at": at},
    }


def note_text(generated: Generated, model: str) -> str:
    """The internal note that brings the model's suggestion to a ticket created before it."""
    return (
        f"Suggested by {model} (check before sending)\n"
        f"Summary: {generated.summary}\n"
        f"Draft reply: {generated.draft_reply}\n"
        f"Next action: {generated.next_action} ({generated.reasoning})"
    )


def update_fields(generated: Generated) -> dict[str, Any]:
    """What an ``Update`` carries: the payload items a helpdesk can map to its fields."""
    return {
        "summary": generated.summary,
        "draft_reply": generated.draft_reply,
        "next_action": generated.next_action,
    }
