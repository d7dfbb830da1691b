"""Decide what one bot event does, as data: the pure middle of the ingest walk.

``service.ingest_event`` reads what a decision needs (``Snapshot``, and for an escalation the
team's ``History``), calls ``decide_event`` and ``plan_handoff`` here, and commits the ``Plan`` in one
short transaction. Nothing here reads a store, the clock or the network: ``now`` is passed in, so
the whole decision (signals, policy, routing, payload) runs outside the write lock and is testable
with tables of cases.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from connector import links
from connector.alerts import alerts_for
from connector.clock import iso
from connector.config import Settings
from connector.control import BOT
from connector.errors import Conflict
from connector.outbox import Deliver, Generate, Outbound
from connector.payload import build_payload
from connector.policy import DecisionInput, decide
from connector.routing import TeamGuessResult, guess_team, route
from connector.schemas import (
    BotContext,
    ConversationRef,
    Customer,
    CustomerMessage,
    Decision,
    Event,
    Message,
)
from connector.signals.language import detect_language
from connector.signals.text import customer_texts
from connector.store import ConversationRow, HandoffRow, MessageRow
from connector.store.base import Encoded

MESSAGE_DATA_FIELDS = frozenset(Message.model_fields) - {"id", "role", "text", "at"}


def new_handoff_id() -> str:
    return "ho_" + uuid.uuid4().hex[:20]


def message_row(conversation_id: str, message: Message) -> MessageRow:
    data = message.model_dump(
        mode="json", exclude={"id", "role", "text", "at"}, exclude_defaults=True
    )
    return MessageRow(
        conversation_id=conversation_id,
        id=message.id,
        role=message.role,
        text=message.text,
        at=iso(message.at) if message.at else None,
        data=data,
    )


def message(row: MessageRow) -> Message:
    """A stored message as a ``Message``. Stored rows must always load back: keys a ``Message`` does
    not know (written by an older version, such as the send gate's ``via``) are left behind."""
    known = {key: value for key, value in row.data.items() if key in MESSAGE_DATA_FIELDS}
    return Message(id=row.id, role=row.role, text=row.text, at=row.at, **known)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Snapshot:
    """What the decision reads: the conversation as it was (None: new) and its transcript."""

    conversation: ConversationRow | None
    transcript: list[MessageRow]


@dataclass(frozen=True)
class History:
    """What routing an escalation reads: the team's recent first responses, the customer's handoffs."""

    first_responses: dict[str, list[float]]
    prior_handoffs: int


@dataclass
class Decided:
    """The event applied to the snapshot, and the policy's decision on it."""

    conversation: ConversationRow  # as it will be written
    changed: dict[str, Any]  # the columns that change ({} for a new conversation)
    new_rows: list[MessageRow]  # messages not seen before, in order
    inputs: DecisionInput
    decision: Decision
    guess: TeamGuessResult | None  # the team an escalation will likely go to (reads its History)
    # what the audit row records, computed before the write transaction so the lock is held less
    inputs_digest: str = ""
    decision_json: dict[str, Any] = field(default_factory=dict)
    decision_text: str = ""  # decision_json encoded as stored
    audit_data: dict[str, Any] = field(default_factory=dict)  # the decision's audit row


@dataclass
class Plan:
    """Everything an escalation writes besides the decision itself."""

    handoff: HandoffRow
    customer_message: CustomerMessage | None
    outbound: list[Outbound] = field(default_factory=list)
    reason: str = "escalated"


def _merge_customer(old: dict[str, Any], new: Customer) -> dict[str, Any]:
    merged = dict(old)
    for key, value in new.model_dump(mode="json", exclude_defaults=True).items():
        if key == "attributes":
            merged["attributes"] = {**merged.get("attributes", {}), **value}
        else:
            merged[key] = value
    return merged


def _apply_event(
    source: str, event: Event, found: ConversationRow | None, stamp: str
) -> tuple[ConversationRow, dict[str, Any]]:
    """The conversation once ``event`` is applied, and which of its columns change."""
    ref = event.conversation
    bot = event.bot.model_dump(mode="json", exclude_defaults=True)
    if found is None:
        return ConversationRow(
            id=ref.id,
            source=source,
            owner=BOT,
            version=1,
            owner_since=stamp,
            created_at=stamp,
            updated_at=stamp,
            channel=ref.channel,
            language=ref.language,
            url=ref.url,
            customer=_merge_customer({}, event.customer),
            bot=bot,
        ), {}
    if found.source != source:
        raise Conflict(
            f"conversation {ref.id!r} belongs to another bot source",
            slug="conversation-source-mismatch",
        )
    fresh = {
        "channel": ref.channel or found.channel,
        "language": ref.language or found.language,
        "url": ref.url or found.url,
        "customer": _merge_customer(found.customer, event.customer),
        "bot": {**found.bot, **bot},
    }
    # most events repeat what the conversation already holds: write only what changed
    changed = {key: value for key, value in fresh.items() if getattr(found, key) != value}
    conversation = ConversationRow(**{**found.__dict__, **changed})
    return conversation, changed


def decide_event(
    source: str, event: Event, snapshot: Snapshot, settings: Settings, now: datetime
) -> Decided:
    """Apply the event to what was read and let the policy decide. Pure."""
    conversation, changed = _apply_event(source, event, snapshot.conversation, iso(now))
    known = {row.id for row in snapshot.transcript}
    new_rows: list[MessageRow] = []
    for incoming in event.messages:
        if incoming.id not in known:  # a repeated id, here or earlier, is the same message
            known.add(incoming.id)
            new_rows.append(message_row(conversation.id, incoming))
    transcript = [message(row) for row in snapshot.transcript + new_rows]
    inputs = DecisionInput(
        event_type=event.type,
        conversation=ConversationRef(
            id=conversation.id,
            channel=conversation.channel,
            language=conversation.language,
            url=conversation.url,
        ),
        customer=Customer.model_validate(conversation.customer),
        bot=BotContext.model_validate(conversation.bot),
        messages=transcript,
        new_messages=transcript[len(snapshot.transcript) :],
        event_bot=event.bot,
    )
    decision = decide(inputs, settings.policy)
    if decision.escalate and conversation.owner != BOT:  # a handoff is open already
        decision = decision.model_copy(update={"escalate": False})
    guess = (
        guess_team(decision, transcript, settings.routing, inputs.bot)
        if decision.escalate
        else None
    )
    return Decided(conversation, changed, new_rows, inputs, decision, guess)


def with_language(inputs: DecisionInput) -> tuple[DecisionInput, Literal["bot", "detected"] | None]:
    """The inputs with the conversation's language: the bot's, else the one the customer's recent
    turns are written in (most bots send only their messages), else unknown."""
    if inputs.conversation.language:
        return inputs, "bot"
    guess = detect_language(customer_texts(inputs.messages, last=6))
    if guess.language is None:
        return inputs, None
    conversation = inputs.conversation.model_copy(update={"language": guess.language})
    return replace(inputs, conversation=conversation), "detected"


def plan_handoff(
    source: str,
    decided: Decided,
    history: History,
    settings: Settings,
    *,
    handoff_id: str,
    base_url: str,
    now: datetime,
) -> Plan:
    """Route the escalation and build its handoff, payload and outbound messages. Pure."""
    inputs, decision = decided.inputs, decided.decision
    conversation = decided.conversation
    inputs, language_source = with_language(inputs)
    routing, customer_message = route(
        decision,
        inputs.customer,
        inputs.conversation.language,
        settings.routing,
        now,
        messages=inputs.messages,
        bot=inputs.bot,
        guess=decided.guess,
        first_responses=history.first_responses,
    )
    decision.team = routing.team
    payload = build_payload(
        handoff_id=handoff_id,
        inputs=inputs,
        decision=decision,
        routing=routing,
        prior_handoffs=history.prior_handoffs,
        now=now,
        transcript_url=links.signed_transcript_url(  # a helpdesk agent has no API key
            base_url,
            handoff_id,
            secret=settings.widget.secret,
            ttl=settings.widget.transcript_link_ttl_seconds,
            now=now.timestamp(),
        ),
        policy=settings.policy,
        settings=settings.payload,
        language_source=language_source,
    )
    stamp = iso(now)
    handoff = HandoffRow(
        id=handoff_id,
        conversation_id=conversation.id,
        source=source,
        status="open",
        team=routing.team,
        priority=routing.priority,
        # encoded here, so the store does not encode the largest row under its write lock
        payload=Encoded.of(payload.model_dump(mode="json", by_alias=True), compact=True),
        created_at=stamp,
        updated_at=stamp,
        customer_id=inputs.customer.id,
    )
    reason = ", ".join(r.trigger for r in decision.reasons) or "escalated"
    ids = {"handoff_id": handoff_id, "conversation_id": conversation.id}
    outbound: list[Outbound] = [Deliver(destination=name, **ids) for name in settings.destinations]
    if settings.payload.generator is not None:  # the model's version follows the extractive one
        outbound.append(Generate(**ids))
    outbound += alerts_for(
        settings, "handoff.opened", handoff, occasion=handoff_id, reason=reason, now=now
    )
    return Plan(handoff, customer_message, outbound, reason)


def warm_up(settings: Settings, now: datetime) -> None:
    """Decide and plan one made-up escalation, so the first real events do not pay for compiling
    the policy's keyword patterns and loading the sentiment lexicon (tens of milliseconds). The
    learned model is left to load on first use. Pure: nothing is written or sent."""
    rules_only = settings.model_copy(
        update={
            "policy": settings.policy.model_copy(
                update={"model": settings.policy.model.model_copy(update={"enabled": False})}
            )
        }
    )
    event = Event.model_validate(
        {
            "id": "warm-up",
            "type": "conversation.updated",
            "occurred_at": now,
            "conversation": {"id": "warm-up", "channel": "web", "language": "en"},
            "customer": {"id": "warm-up", "name": "Warm Up"},
            "messages": [
                {"id": "c1", "role": "customer", "text": "Where is my order? It has not arrived."},
                {"id": "b1", "role": "bot", "text": "Let me check that order for you."},
                {"id": "c2", "role": "customer", "text": "This is useless, I want a real person"},
            ],
        }
    )
    decided = decide_event("warm-up", event, Snapshot(None, []), rules_only, now)
    if decided.decision.escalate:
        history = History(first_responses={}, prior_handoffs=0)
        plan_handoff(
            "warm-up",
            decided,
            history,
            rules_only,
            handoff_id="ho_warm_up",
            base_url="http://localhost",
            now=now,
        )
