"""The conversation after the handoff: agent and customer talk in the same thread.

- An agent message (the API, the inbox and widget reply box, a helpdesk's public reply) is kept in
  the transcript as an ``agent`` turn and sent to the bot as ``agent.message``, in the
  conversation's callback lane (``connector/outbox.py``), so the bot relays each one once and in
  order, and none after ``conversation.handed_back``.
- A customer turn that arrives while a handoff is open is appended to the ticket of every
  destination the handoff goes to (``outbox.Turn``), in the ticket's lane, once each.
- ``turns`` lists both sides since the handoff, for ``GET /v1/handoffs/{id}`` and the live views.
- Bridge messages (the warm transfer): when an agent takes over, the bot gets a ``customer.update``
  with the agent's joining words in the conversation's language; on handback, optionally, a line
  handing the customer back to the bot's voice. Both in the conversation's callback lane.

Each operation is one store transaction, like those in ``connector/service.py``.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from connector import control, limits, outbox
from connector.clock import iso
from connector.control import AGENT, PENDING
from connector.errors import BadRequest, Conflict, NotFound
from connector.routing_messages import DEFAULT_MESSAGES
from connector.runtime import Runtime
from connector.schemas import AgentMessageIn, AgentMessageOut, TurnView
from connector.store import ConversationRow, HandoffRow, MessageRow, Tx

logger = logging.getLogger(__name__)

MARK = "transcript_mark"  # the handoff fact that says where "since the handoff" starts
HELPDESKS = ("zendesk", "salesforce", "intercom")


def mark_opening(tx: Tx, handoff_id: str, last_seq: int, stamp: str) -> None:
    """Remember the transcript position a handoff opened at: later turns are "since the handoff"."""
    tx.add_fact(handoff_id, MARK, stamp, {"after_seq": last_seq}, once=True)


def _opened_after(tx: Tx, handoff_id: str) -> int:
    facts = tx.list_facts(handoff_id, MARK)
    return int(facts[0].data.get("after_seq", 0)) if facts else 0


def message_id_for(handoff_id: str, idempotency_key: str | None) -> str:
    """The agent message's id: derived from the ``Idempotency-Key`` (a retry finds the first), or new."""
    if idempotency_key is None:
        return "agent-" + uuid.uuid4().hex[:20]
    digest = hashlib.sha256(f"{handoff_id}\0{idempotency_key}".encode()).hexdigest()
    return "agent-" + digest[:20]


def _out(
    row: MessageRow, conversation_id: str, handoff_id: str, *, duplicate: bool
) -> AgentMessageOut:
    data = row.data or {}
    return AgentMessageOut.model_validate(
        {
            "id": row.id,
            "conversation_id": conversation_id,
            "handoff_id": handoff_id,
            "text": row.text,
            "author": data.get("author") or {"name": "agent"},
            "at": row.at,
            "attachments": data.get("attachments") or [],
            "duplicate": duplicate,
        }
    )


def post_agent_message(
    runtime: Runtime,
    handoff_id: str,
    body: AgentMessageIn,
    *,
    actor: str | None,
    via: str,
    idempotency_key: str | None = None,
    author_id: str | None = None,
    any_agent: bool = False,
) -> AgentMessageOut:
    """The agent who owns the conversation writes to the customer. 409 unless they own it.

    ``actor`` is who writes (from their credential, or typed with the shared key); ``any_agent``
    lets a helpdesk's reply through whoever is assigned (the helpdesk decided who may write).
    The same ``idempotency_key`` returns the first message and sends nothing again.
    """
    if not actor:
        raise BadRequest(
            "say who writes: actor is required with the shared API key",
            slug="missing-actor",
            errors=[{"path": "actor", "message": "required"}],
        )
    after: list[Callable[[], None]] = []
    with runtime.store.atomic() as tx:
        out = post_agent_message_in(
            runtime,
            tx,
            handoff_id,
            body,
            actor=actor,
            via=via,
            idempotency_key=idempotency_key,
            author_id=author_id,
            any_agent=any_agent,
            after=after,
        )
    for action in after:
        action()
    return out


def post_agent_message_in(
    runtime: Runtime,
    tx: Tx,
    handoff_id: str,
    body: AgentMessageIn,
    *,
    actor: str,
    via: str,
    idempotency_key: str | None,
    author_id: str | None,
    any_agent: bool,
    after: list[Callable[[], None]],
) -> AgentMessageOut:
    """``post_agent_message`` in the caller's transaction; what follows the commit goes to ``after``."""
    message_id = message_id_for(handoff_id, idempotency_key)
    now = runtime.now()
    stamp = iso(now)
    handoff, conversation = _handoff_and_conversation(tx, handoff_id)
    messages = tx.list_messages(conversation.id)
    for row in messages:
        if row.id == message_id:
            return _out(row, conversation.id, handoff_id, duplicate=True)
    _check_owner(handoff, conversation, actor, any_agent=any_agent)
    limits.check_conversation(len(messages) + 1, runtime.settings.limits)
    author = {"name": actor, "id": author_id or actor}
    attachments = [a.model_dump(mode="json") for a in body.attachments]
    row = MessageRow(
        conversation_id=conversation.id,
        id=message_id,
        role="agent",
        text=body.text,
        at=stamp,
        data={"author": author, "attachments": attachments, "handoff_id": handoff_id, "via": via},
    )
    tx.add_messages([row])
    source = runtime.settings.sources.get(conversation.source)
    if source is not None and source.receives_callbacks:
        outbox.write(
            tx,
            outbox.agent_message(
                source=conversation.source,
                conversation_id=conversation.id,
                handoff_id=handoff_id,
                message_id=message_id,
                text=body.text,
                author=author,
                at=stamp,
                attachments=attachments,
                now=now,
            ),
            now,
        )
    # no response window to stop: writing needs ownership, and taking over stopped it
    tx.append_audit(
        at=stamp,
        action="agent.message",
        actor=actor,
        conversation_id=conversation.id,
        handoff_id=handoff_id,
        reason=f"agent wrote to the customer ({via})",
        data={
            "message_id": message_id,
            "chars": len(body.text),
            "attachments": len(attachments),
            "via": via,
        },
    )
    after.append(runtime.waker.notify)
    after.append(
        lambda: logger.info(
            "agent message queued", extra={"handoff": handoff_id, "conversation": conversation.id}
        )
    )
    return _out(row, conversation.id, handoff_id, duplicate=False)


def _check_owner(
    handoff: HandoffRow, conversation: ConversationRow, actor: str, *, any_agent: bool
) -> None:
    if conversation.handoff_id != handoff.id or conversation.owner not in (AGENT, PENDING):
        raise Conflict(
            "this handoff is not open any more; the bot has the conversation",
            slug="handoff-not-open",
        )
    if conversation.owner == PENDING:
        raise Conflict(
            "nobody has taken this handoff over yet: take it over, then reply", slug="not-claimed"
        )
    if not any_agent and handoff.claimed_by != actor:
        raise Conflict(
            f"{handoff.claimed_by} owns this conversation; only they may write to the customer",
            slug="not-your-conversation",
        )


def _handoff_and_conversation(tx: Tx, handoff_id: str) -> tuple[HandoffRow, ConversationRow]:
    handoff = tx.get_handoff(handoff_id)
    if handoff is None:
        raise NotFound(f"no handoff {handoff_id!r}", slug="unknown-handoff")
    conversation = tx.get_conversation(handoff.conversation_id)
    assert conversation is not None
    return handoff, conversation


def relay_customer_turns(
    tx: Tx,
    runtime: Runtime,
    before: ConversationRow | None,
    inserted: Sequence[MessageRow],
    now: datetime,
) -> list[int]:
    """Queue the customer turns of an event for the open handoff's tickets (in the event's
    transaction). Only while a handoff was already open when the event came: the turns of the
    event that opens one are in its payload."""
    if before is None or before.owner not in (AGENT, PENDING) or not before.handoff_id:
        return []
    handoff_id = before.handoff_id
    author = str((before.customer or {}).get("name") or "Customer")
    turns = [
        outbox.Turn(
            destination=name,
            message_id=row.id,
            text=row.text,
            author=author,
            at=row.at or iso(now),
            handoff_id=handoff_id,
            conversation_id=before.id,
        )
        for row in inserted
        if row.role == "customer"
        for name in control.note_destinations(tx, runtime.settings, handoff_id)
        if copies_turns(runtime, name, before.channel)
    ]
    return outbox.write_all(tx, turns, now)


def relays(runtime: Runtime, destination: str, channel: str | None) -> bool:
    """Whether ``destination`` relays both ways for a conversation on ``channel`` (its ``relay``)."""
    found = runtime.destinations.get(destination)
    return found is not None and found.relays(channel)


def copies_turns(runtime: Runtime, destination: str, channel: str | None) -> bool:
    found = runtime.destinations.get(destination)
    return found is not None and found.copies_turns and found.relays(channel)


def relay_helpdesk_reply_in(
    runtime: Runtime,
    tx: Tx,
    vendor: str,
    handoff_id: str,
    *,
    actor: str,
    text: str,
    reply_id: str,
    after: list[Callable[[], None]],
) -> AgentMessageOut | None:
    """An agent's public reply in a helpdesk, for the customer (``agent.message``), unless the
    conversation runs in that helpdesk's own messenger (``relay``). ``reply_id`` makes it once.
    Runs in the caller's transaction (the helpdesk event's, so the two commit together)."""
    handoff, conversation = _handoff_and_conversation(tx, handoff_id)
    if not relays(runtime, vendor, conversation.channel):
        return None
    return post_agent_message_in(
        runtime,
        tx,
        handoff.id,
        AgentMessageIn(text=text),
        actor=actor,
        via=vendor,
        idempotency_key=f"{vendor}:{reply_id}",
        author_id=None,
        any_agent=True,
        after=after,
    )


def turns(tx: Tx, handoff: HandoffRow) -> list[TurnView]:
    """Every turn since ``handoff`` opened, both sides, in order (after a handback, the bot's too)."""
    after = _opened_after(tx, handoff.id)
    rows = [r for r in tx.list_messages(handoff.conversation_id) if r.seq > after]
    return [_turn(r) for r in rows]


def _turn(row: MessageRow) -> TurnView:
    data: dict[str, Any] = row.data or {}
    return TurnView.model_validate(
        {
            "seq": row.seq,
            "id": row.id,
            "role": row.role,
            "text": row.text,
            "at": row.at,
            "author": data.get("author"),
            "via": data.get("via"),
        }
    )


# --- bridge messages ---------------------------------------------------------------------------

# The built-in joining lines: the ``join`` line of each language in ``routing.messages``
JOIN = {lang: lines["join"] for lang, lines in DEFAULT_MESSAGES.items()}
YOUR_REQUEST = {lang: lines["your_request"] for lang, lines in DEFAULT_MESSAGES.items()}


def _language(handoff: HandoffRow, conversation: ConversationRow) -> str | None:
    """The conversation's language: the bot's, else the one the handoff's payload detected."""
    customer = (handoff.payload or {}).get("customer") or {}
    detected = customer.get("language")
    return conversation.language or (detected if isinstance(detected, str) else None)


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:  # an unknown {placeholder} stays as written
        return "{" + key + "}"


def pick(texts: dict[str, str], language: str | None) -> tuple[str, str] | None:
    """(language, text) for ``language`` from ``texts``: exact, then its base ("pt-BR" → "pt"),
    then ``*``, then English; None when there is none."""
    wanted = (language or "en").lower()
    for key in (wanted, wanted.split("-")[0], "*", "en"):
        if key in texts:
            return ("en" if key == "*" else key), texts[key]
    return None


def bridge_text(
    texts: dict[str, str],
    language: str | None,
    *,
    agent: str,
    team: str | None,
    payload: dict[str, Any],
) -> str | None:
    """A bridge message, filled in; None when ``texts`` has nothing for this conversation."""
    picked = pick(texts, language)
    if picked is None:
        return None
    lang, template = picked
    intent = payload.get("intent") or {}
    topic = str(intent.get("sub_intent") or intent.get("name") or "").replace("_", " ").strip()
    if not topic or topic == "unknown":
        topic = YOUR_REQUEST.get(lang, YOUR_REQUEST["en"])
    return template.format_map(_Blank(agent=agent, team=team or "support", topic=topic))


def agent_display_name(runtime: Runtime, actor: str) -> str:
    """What the customer is told the agent is called: the configured name for a known e-mail, the
    first name of a configured agent, else the actor (an e-mail's local part)."""
    for agent in runtime.settings.agents:
        if actor in (agent.name, agent.email):
            return agent.name.split()[0]
    return actor.split("@")[0] if "@" in actor else actor


def _bridge(
    tx: Tx,
    runtime: Runtime,
    handoff: HandoffRow,
    conversation: ConversationRow,
    kind: str,
    text: str,
    actor: str,
    now: datetime,
) -> None:
    control.enqueue_callback(
        tx,
        runtime.settings,
        conversation.source,
        "customer.update",
        key=f"{handoff.id}:bridge:{kind}",
        body={
            "conversation_id": conversation.id,
            "handoff_id": handoff.id,
            "text": text,
            "bridge": kind,
            "agent": actor,
        },
        now=now,
        conversation_id=conversation.id,
        handoff_id=handoff.id,
    )


def bridge_join(
    tx: Tx,
    runtime: Runtime,
    handoff: HandoffRow,
    conversation: ConversationRow,
    actor: str,
    now: datetime,
) -> None:
    """Queue the joining message for the bot to relay (in the caller's transaction)."""
    team = runtime.settings.routing.teams.get(handoff.team or "")
    if team is None or team.bridge_join is None:
        return
    routing = runtime.settings.routing
    texts = team.bridge_join or {
        lang: routing.message(lang, "join")[1] for lang in {*DEFAULT_MESSAGES, *routing.messages}
    }
    name = agent_display_name(runtime, actor)
    text = bridge_text(
        texts,
        _language(handoff, conversation),
        agent=name,
        team=handoff.team,
        payload=handoff.payload,
    )
    if text:
        _bridge(tx, runtime, handoff, conversation, "join", text, actor, now)


def bridge_handback(
    tx: Tx,
    runtime: Runtime,
    handoff: HandoffRow,
    conversation: ConversationRow,
    actor: str,
    now: datetime,
) -> None:
    """Queue the team's handback line, if it has one (before ``conversation.handed_back``)."""
    team = runtime.settings.routing.teams.get(handoff.team or "")
    if team is None or not team.bridge_handback:
        return
    name = agent_display_name(runtime, actor)
    text = bridge_text(
        team.bridge_handback,
        _language(handoff, conversation),
        agent=name,
        team=handoff.team,
        payload=handoff.payload,
    )
    if text:
        _bridge(tx, runtime, handoff, conversation, "handback", text, actor, now)
