"""Who owns a conversation: ``bot``, ``pending_agent`` or ``agent``, and the only ways to change it.

Every transition is a compare-and-swap on ``(conversation, version)``: of two threads or two
replicas racing, exactly one wins and the other gets ``Conflict``. Each transition appends an audit
row and queues a ``control.changed`` callback to the bot source (``outbox.Callback``), in the caller's
transaction, so the change and its announcements commit (or vanish) together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connector import outbox
from connector.clock import iso
from connector.config import Settings
from connector.errors import Conflict
from connector.store import ConversationRow, Tx

BOT, PENDING, AGENT = "bot", "pending_agent", "agent"

ALLOWED: dict[tuple[str, str], str] = {
    (BOT, PENDING): "escalation",
    (PENDING, AGENT): "agent took over",
    (PENDING, BOT): "handback",
    (AGENT, BOT): "handback",
}


def transition(
    tx: Tx,
    settings: Settings,
    conversation: ConversationRow,
    to: str,
    *,
    handoff_id: str | None,
    actor: str,
    reason: str,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> ConversationRow:
    """Move control to ``to`` or raise ``Conflict``; return the conversation as it now is.
    ``extra`` fields (on escalation: the handoff's ``team`` and the ``customer_message`` text) ride
    along in the callback, for a channel that hands off inside its platform (Chatwoot assigns the
    team and tells the customer); ``None`` values are left out."""
    if (conversation.owner, to) not in ALLOWED:
        raise Conflict(
            f"control cannot move from {conversation.owner} to {to}",
            slug="invalid-control-transition",
        )
    stamp = iso(now)
    if not tx.cas_control(conversation.id, conversation.version, to, handoff_id, stamp):
        raise Conflict(
            "control changed under this request; read it again and retry",
            slug="control-version-conflict",
        )
    previous = conversation.owner
    conversation.owner, conversation.version = to, conversation.version + 1
    conversation.owner_since, conversation.handoff_id = stamp, handoff_id
    tx.append_audit(
        at=stamp,
        action="control.changed",
        actor=actor,
        conversation_id=conversation.id,
        handoff_id=handoff_id,
        reason=reason,
        data={"from": previous, "to": to, "version": conversation.version},
    )
    enqueue_callback(
        tx,
        settings,
        conversation.source,
        "control.changed",
        key=f"{conversation.id}:control:{conversation.version}",
        body={
            "conversation_id": conversation.id,
            "owner": to,
            "version": conversation.version,
            "reason": reason,
            "handoff_id": handoff_id,
            **{k: v for k, v in (extra or {}).items() if v is not None},
        },
        now=now,
        conversation_id=conversation.id,
        handoff_id=handoff_id,
    )
    return conversation


def enqueue_callback(
    tx: Tx,
    settings: Settings,
    source: str,
    event_type: str,
    *,
    key: str,
    body: dict[str, Any],
    now: datetime,
    conversation_id: str | None = None,
    handoff_id: str | None = None,
) -> int | None:
    """Queue a callback to the bot source, if the source takes callbacks; ``key`` is its id."""
    source_settings = settings.sources.get(source)
    if source_settings is None or not source_settings.receives_callbacks:
        return None
    return outbox.write(
        tx,
        outbox.Callback.at(
            now,
            source=source,
            type=event_type,
            id=key,
            fields=body,
            handoff_id=handoff_id,
            conversation_id=conversation_id,
        ),
        now,
    )


def note_destinations(tx: Tx, settings: Settings, handoff_id: str) -> list[str]:
    """Where notes about a handoff go: every destination it reached, or before any delivery,
    every configured one (the outbox runs a note after its delivery)."""
    return list(tx.get_ticket_refs(handoff_id)) or list(settings.destinations)


def hand_back(
    tx: Tx,
    settings: Settings,
    conversation: ConversationRow,
    handoff_id: str,
    *,
    actor: str,
    note: str,
    resolution: str | None,
    resume_hint: str | None,
    reason: str,
    now: datetime,
    destination_note: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """Give the conversation back to the bot, in the caller's transaction.

    Control moves to ``bot``, the handoff is marked handed back with its note, the bot is sent
    ``conversation.handed_back`` (plus ``extra`` fields), and every destination the handoff reached
    (or, before any delivery, every configured one) gets ``destination_note``. Used by agents'
    handbacks and by the response-window fallback alike.
    """
    stamp = iso(now)
    transition(
        tx, settings, conversation, BOT, handoff_id=None, actor=actor, reason=reason, now=now
    )
    details = {
        "actor": actor,
        "note": note,
        "resolution": resolution,
        "resume_hint": resume_hint,
        **(extra or {}),
    }
    tx.update_handoff(
        handoff_id, status="handed_back", handback={**details, "at": stamp}, updated_at=stamp
    )
    enqueue_callback(
        tx,
        settings,
        conversation.source,
        "conversation.handed_back",
        key=f"{handoff_id}:handback",
        now=now,
        conversation_id=conversation.id,
        handoff_id=handoff_id,
        body={"conversation_id": conversation.id, "handoff_id": handoff_id, **details},
    )
    outbox.write_all(
        tx,
        [
            outbox.Note(
                destination=destination,
                occasion=f"handback:{handoff_id}",
                text=destination_note,
                handoff_id=handoff_id,
                conversation_id=conversation.id,
            )
            for destination in note_destinations(tx, settings, handoff_id)
        ],
        now,
    )
