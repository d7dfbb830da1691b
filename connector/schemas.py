"""Pydantic models of what comes in and what goes out.

These models validate request bodies *and* generate ``/openapi.json`` and the ``handoff/v1`` JSON
Schema, so the documentation can never drift from what the service accepts.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connector import limits
from connector.errors import BadRequest, validation_message
from connector.limits import LimitsSettings

Role = Literal["customer", "bot", "agent", "system"]
Owner = Literal["bot", "pending_agent", "agent"]
EventType = Literal["conversation.updated", "handoff.requested", "conversation.ended"]
SentimentLabel = Literal["Interested", "Neutral", "Uninterested", "Frustrated"]
Priority = Literal["low", "normal", "high", "urgent"]
HandoffStatus = Literal["open", "with_agent", "handed_back", "closed"]

ID = Field(min_length=1, max_length=200)
TEXT_MAX = 100_000


class Strict(BaseModel):
    """Base for request bodies: unknown fields are errors, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Citation(Strict):
    title: str = Field(max_length=1000)
    url: str | None = Field(default=None, max_length=4000)
    snippet: str | None = Field(default=None, max_length=5000)


class ToolCall(Strict):
    name: str = Field(max_length=200)
    ok: bool
    error: str | None = Field(default=None, max_length=5000)


class Message(Strict):
    id: str = ID
    role: Role
    text: str = Field(default="", max_length=TEXT_MAX)
    at: datetime | None = None
    intent: str | None = Field(default=None, max_length=200)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    citations: list[Citation] = Field(default_factory=list)
    fallback: bool = False
    tool_calls: list[ToolCall] = Field(default_factory=list)


class Customer(Strict):
    id: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=300)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    tier: str | None = Field(default=None, max_length=50)
    tags: list[str] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)


class ConversationRef(Strict):
    id: str = ID
    channel: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=20)
    url: str | None = Field(default=None, max_length=4000)


class BotIntent(Strict):
    name: str = Field(max_length=200)
    sub_intent: str | None = Field(default=None, max_length=200)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)


class BotRecommendation(Strict):
    reason: str = Field(default="", max_length=2000)


class BotContext(Strict):
    intent: BotIntent | None = None
    summary: str | None = Field(default=None, max_length=5000)
    draft_reply: str | None = Field(default=None, max_length=10000)
    citations: list[Citation] = Field(default_factory=list)
    next_action: str | None = Field(default=None, max_length=2000)
    recommend_handoff: BotRecommendation | None = None


class Event(Strict):
    """``POST /v1/events``: one bot-platform event with the turns that are new since the last."""

    id: str = ID
    type: EventType
    occurred_at: datetime
    conversation: ConversationRef
    customer: Customer = Field(default_factory=Customer)
    messages: list[Message] = Field(default_factory=list, max_length=10_000)
    bot: BotContext = Field(default_factory=BotContext)


class Reason(BaseModel):
    trigger: str
    rule: str
    detail: str = ""


class Decision(BaseModel):
    """What the policy decided. ``reasons`` lists every rule whose trigger fired, in rule order;
    the first one (``rule``) decided. ``checked`` lists the rules evaluated that did not fire.
    ``priority`` is the highest of the fired rules'; ``priority_rule`` is the rule that raised it."""

    escalate: bool
    reasons: list[Reason] = Field(default_factory=list)
    team: str | None = None
    priority: Priority = "normal"
    priority_rule: str | None = None
    policy_version: str = ""
    rule: str | None = None
    queue: str | None = None
    tags: list[str] = Field(default_factory=list)
    checked: list[Reason] = Field(default_factory=list)
    # What the learned model saw where it did not decide, or why it could not run (docs/policy.md)
    learned: list[Reason] = Field(default_factory=list)


class Control(BaseModel):
    owner: Owner
    version: int
    since: datetime | None = None
    handoff_id: str | None = None


class HandoffRef(BaseModel):
    """The handoff an answer to a bot refers to. ``url`` opens it in the inbox for someone holding
    an agent credential; a bot answer carries no credential of its own (docs/widget.md)."""

    id: str
    status: HandoffStatus
    url: str


class CustomerMessage(BaseModel):
    text: str
    wait_minutes: int | None = None
    callback_offered: bool = False
    callback_at: datetime | None = None  # the proposed call-back or e-mail time, when offered
    language: str | None = None  # the language of ``text``


class EventResponse(BaseModel):
    event_id: str
    duplicate: bool
    decision: Decision
    control: Control
    handoff: HandoffRef | None = None
    customer_message: CustomerMessage | None = None
    # contact fields no helpdesk will receive (an e-mail that is not an address, a phone that is
    # not a number): a warning for the bot's developers, never a refusal
    warnings: list[str] = Field(default_factory=list)


class BotReply(Strict):
    """``POST /v1/conversations/{id}/bot-replies``: the bot asks to send one reply."""

    id: str | None = Field(default=None, max_length=200)
    text: str = Field(min_length=1, max_length=TEXT_MAX)
    at: datetime | None = None


class BotReplyResponse(BaseModel):
    accepted: bool
    message_id: str
    control: Control


class Claim(Strict):
    actor: str = Field(min_length=1, max_length=200)


class Handback(Strict):
    actor: str = Field(min_length=1, max_length=200)
    note: str = Field(min_length=1, max_length=5000)
    resolution: str | None = Field(default=None, max_length=200)
    resume_hint: str | None = Field(default=None, max_length=2000)


class Attachment(Strict):
    name: str = Field(min_length=1, max_length=500)
    url: str = Field(min_length=1, max_length=4000, pattern=r"^https?://")
    content_type: str | None = Field(default=None, max_length=200)


class AgentMessageIn(Strict):
    """``POST /v1/handoffs/{id}/messages``: the owning agent writes to the customer."""

    text: str = Field(min_length=1, max_length=20_000)
    actor: str | None = Field(default=None, min_length=1, max_length=200)
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)


class Author(BaseModel):
    name: str
    id: str | None = None


class AgentMessageOut(BaseModel):
    """An agent message as the bot receives it in ``agent.message`` (plus ``duplicate``)."""

    id: str
    conversation_id: str
    handoff_id: str
    text: str
    author: Author
    at: datetime
    attachments: list[Attachment] = Field(default_factory=list)
    duplicate: bool = False


class TurnView(BaseModel):
    """One turn of the conversation since the handoff, either side, in order."""

    seq: int
    id: str
    role: Role
    text: str
    at: datetime | None = None
    author: Author | None = None
    via: str | None = (
        None  # where an agent wrote it: api, inbox, widget, zendesk, intercom, salesforce
    )


# ---------------------------------------------------------------------------------------------
# The handoff payload: handoff/v1. One object, rendered into every helpdesk, the widget and alerts.


class TranscriptTurn(BaseModel):
    id: str
    role: Role
    text: str
    at: datetime | None = None


class Transcript(BaseModel):
    turns: list[TranscriptTurn]
    url: str | None = None


class CustomerProfile(BaseModel):
    id: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    channel: str | None = None
    language: str | None = None
    tier: str | None = None
    tags: list[str] = Field(default_factory=list)
    lifetime_value: float | None = None
    prior_handoffs: int = 0
    attributes: dict[str, Any] = Field(default_factory=dict)


class IntentInfo(BaseModel):
    name: str | None = None
    sub_intent: str | None = None
    confidence: float | None = None
    source: Literal["bot", "connector", "none"] = "none"
    evidence: list[str] = Field(default_factory=list)  # for the connector's guess: matched words


class SentimentInfo(BaseModel):
    label: SentimentLabel = "Neutral"
    score: float = 0.0
    trend: Literal["improving", "steady", "worsening"] = "steady"
    cues: list[str] = Field(default_factory=list)
    # the score thresholds the label was read with (positive, negative, trend delta)
    thresholds: dict[str, float] = Field(default_factory=dict)


class Escalation(BaseModel):
    reasons: list[Reason]
    rules: list[str]
    policy_version: str
    bot_recommendation: str | None = None
    # the policy's priority (highest of the fired rules') and the rule that raised it; routing may
    # raise it further for a VIP (``routing.priority``)
    priority: Priority | None = None
    priority_rule: str | None = None


class NextAction(BaseModel):
    action: str
    reasoning: str


class Routing(BaseModel):
    team: str | None = None
    queue: str | None = None
    priority: Priority = "normal"
    language: str | None = None
    skills: list[str] = Field(default_factory=list)
    tier: str | None = None
    respond_by: datetime | None = None
    tags: list[str] = Field(default_factory=list)
    team_source: str | None = None  # rule | model | bot | keywords | examples | default
    team_confidence: float | None = None  # how sure the source was (a rule: 1.0)
    team_evidence: list[str] = Field(default_factory=list)  # matched words, rule, model score
    available: bool = True  # someone is on shift or on call
    on_call: str | None = None
    wait_minutes: int | None = None
    wait_basis: str | None = None  # how the wait was estimated
    callback_at: datetime | None = None  # when nobody is available: the proposed follow-up time


class GeneratorInfo(BaseModel):
    """Which model wrote the summary, draft reply and next action, and when (``payload.generator``)."""

    model: str
    at: datetime


class PayloadLanguage(BaseModel):
    """The conversation's language, where it came from, and the language of the draft we wrote
    (None: the bot's own draft). ``note`` says when the draft fell back to English."""

    conversation: str | None = None
    source: Literal["bot", "detected"] | None = None
    draft: str | None = None
    note: str | None = None


class HandoffPayload(BaseModel):
    """``handoff/v1``: everything an agent needs to answer without asking the customer again."""

    schema_: Literal["handoff/v1"] = Field(default="handoff/v1", alias="schema")
    handoff_id: str
    conversation_id: str
    created_at: datetime
    summary: str
    transcript: Transcript
    customer: CustomerProfile
    intent: IntentInfo
    sentiment: SentimentInfo | None = None
    escalation: Escalation
    citations: list[Citation] = Field(default_factory=list)
    draft_reply: str | None = None
    next_action: NextAction | None = None
    routing: Routing
    generator: GeneratorInfo | None = None  # None: the connector wrote them (no model)
    language: PayloadLanguage | None = None

    model_config = ConfigDict(populate_by_name=True)


class HandoffView(BaseModel):
    """``GET /v1/handoffs/{id}``."""

    id: str
    conversation_id: str
    source: str
    status: HandoffStatus
    team: str | None
    priority: Priority
    created_at: datetime
    updated_at: datetime
    control: Control
    payload: HandoffPayload
    deliveries: list[dict[str, Any]] = Field(default_factory=list)
    widget_url: str
    turns: list[TurnView] | None = (
        None  # ``GET /v1/handoffs/{id}`` only: every turn since the handoff
    )


class HandoffList(BaseModel):
    items: list[HandoffView]


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    errors: list[dict[str, Any]] | None = None


# --- reading a JSON body into a model: the one place bad input becomes a 400 with field paths ---

M = TypeVar("M", bound=BaseModel)


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def load_json(model: type[M], raw: bytes, bounds: LimitsSettings = limits.DEFAULTS) -> M:
    """Parse ``raw`` as a JSON object into ``model``; ``BadRequest`` names every bad field by path.

    JSON over ``bounds`` (depth, number length) is a 400, a body over its message or text limits a
    413; both name the config key (``connector/limits.py``).
    """
    if not raw.strip():
        raise BadRequest("the request body is empty; send a JSON object", slug="malformed-json")
    try:
        data = limits.loads(raw, bounds)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(
            f"the request body is not valid JSON: {exc}", slug="malformed-json"
        ) from None
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object", slug="malformed-json")
    try:
        body = model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"path": _path(e["loc"]), "message": validation_message(e), "type": e["type"]}
            for e in exc.errors()
        ]
        first = errors[0]
        raise BadRequest(
            f"{len(errors)} invalid field(s); first: {first['path']}: {first['message']}",
            slug="validation-error",
            title="Invalid request body",
            errors=errors,
        ) from None
    limits.check_body(body, bounds)
    return body
