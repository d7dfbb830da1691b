"""The domain operations behind the HTTP API and the CLI.

Each operation is one store transaction: it either happens whole (rows, control change, outbox
rows, audit rows) or not at all. The delivery worker is woken after commit, never before.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from datetime import datetime
from typing import Any

from connector import audit, control, limits, links, live, metrics, outbox, security, timers
from connector.clock import iso
from connector.control import AGENT, BOT, PENDING
from connector.errors import Conflict, NotFound
from connector.planning import (
    Decided,
    History,
    Plan,
    Snapshot,
    decide_event,
    message_row,
    new_handoff_id,
    plan_handoff,
)
from connector.runtime import Runtime
from connector.schemas import (
    BotReply,
    BotReplyResponse,
    Claim,
    Control,
    Decision,
    Event,
    EventResponse,
    Handback,
    HandoffRef,
    Message,
)
from connector.store import ConversationRow, HandoffRow, Store, Tx
from connector.store.base import Encoded, canonical_json, compact_json
from integrations import fields

logger = logging.getLogger(__name__)

STATUS_FOR_OWNER = {PENDING: "open", AGENT: "with_agent"}


def widget_token(runtime: Runtime, handoff_id: str, agent: str | None = None) -> str:
    """A fresh signed, expiring token that opens the widget for this handoff (docs/widget.md)."""
    return security.issue_widget_token(
        runtime.settings.widget.secret,
        handoff_id,
        now=runtime.now().timestamp(),
        ttl=runtime.settings.widget.token_ttl_seconds,
        agent=agent,
    )


def widget_url(
    runtime: Runtime, handoff_id: str, agent: str | None = None, *, token: str | None = None
) -> str:
    """The agent widget for this handoff, with ``token`` or a fresh one."""
    return links.widget_url(
        runtime.base_url, handoff_id, token or widget_token(runtime, handoff_id, agent)
    )


def control_of(conversation: ConversationRow) -> Control:
    return Control.model_validate(
        {
            "owner": conversation.owner,
            "version": conversation.version,
            "since": conversation.owner_since,
            "handoff_id": conversation.handoff_id,
        }
    )


def _first_responses(team: str, newest_first: list[float]) -> dict[str, list[float]]:
    """The team's recent first-response times in minutes, oldest first, for the wait estimate."""
    return {team: [seconds / 60.0 for seconds in reversed(newest_first)]}


class _Raced(Exception):
    """What an event's decision read changed before its write: read and decide again."""


RACE_RETRIES = 4  # optimistic tries before the last one, which reads and writes under the lock


def event_turns(runtime: Runtime) -> AbstractContextManager[object]:
    """What a process's bot events hold from read to write: on SQLite one event at a time
    (``Store.turns``, re-entrant), unless the learned model is on: its inference, most of such an
    event's CPU, runs without Python's lock, side by side. ``handoff serve`` holds it around the
    whole request of an event (``serving.create_server``'s ``turns``)."""
    return nullcontext() if runtime.settings.policy.model.enabled else runtime.store.turns()


def ingest_event(runtime: Runtime, source: str, event: Event) -> EventResponse:
    """Record an event, decide, and (when the policy escalates) open a handoff. Idempotent by id.

    Read → decide → write: what the decision needs is read without the write lock, the decision
    is pure (``connector/planning.py``), and everything it implies is written in one short
    transaction that first checks nothing it read has changed; a lost race decides again. The
    last try holds the lock from its read to its write, so an event always gets an answer.
    """
    warnings = fields.contact_problems(event.customer.email, event.customer.phone)
    with event_turns(runtime):
        for attempt in range(RACE_RETRIES + 1):
            try:
                response = _ingest_once(runtime, source, event, locked=attempt == RACE_RETRIES)
                return response.model_copy(update={"warnings": warnings}) if warnings else response
            except _Raced:
                metrics.safely(runtime, lambda m: m.ingest_races.inc())
    raise AssertionError("unreachable: the locked try cannot race")


def _ingest_once(runtime: Runtime, source: str, event: Event, *, locked: bool) -> EventResponse:
    settings = runtime.settings
    with ExitStack() as stack:
        held = stack.enter_context(runtime.store.atomic()) if locked else None

        # the store's reads are one snapshot each (on PostgreSQL one statement, no transaction);
        # the locked try reads in its own transaction, with the same verbs
        reads: Tx | Store = held if held is not None else runtime.store
        seen = reads.ingest_snapshot(source, event.id, event.conversation.id)
        if seen.response is not None:
            return _replayed(runtime, source, event, seen.response)
        snapshot = Snapshot(seen.conversation, seen.messages)
        decided_at = runtime.now()
        decided = decide_event(source, event, snapshot, settings, decided_at)
        decided.inputs_digest = audit.digest(event.model_dump(mode="json"))  # outside the lock
        limits.check_conversation(len(snapshot.transcript) + len(decided.new_rows), settings.limits)
        plan = None
        if decided.decision.escalate:
            assert decided.guess is not None
            team = decided.guess.team
            seen_before = reads.routing_history(
                team, settings.routing.wait_history, decided.inputs.customer.id
            )
            history = History(
                first_responses=_first_responses(team, seen_before.first_responses),
                prior_handoffs=seen_before.prior_handoffs,
            )
            plan = plan_handoff(
                source,
                decided,
                history,
                settings,
                handoff_id=new_handoff_id(),
                base_url=runtime.base_url,
                now=decided_at,
            )
        _encode_ahead(source, event, decided)  # the decision is final once planned
        # no handoff opens: control stays as read, so the answer is made before the lock too
        answer = None if plan else _answer(runtime, event, decided, decided.conversation)
        if held is not None:
            response = _write(runtime, held, source, event, snapshot, decided, plan, answer)
        else:
            with runtime.store.atomic() as tx:
                response = _write(runtime, tx, source, event, snapshot, decided, plan, answer)
    if response.duplicate:
        return response
    _count_decision(runtime, source, event, decided.decision, plan is not None)
    if plan is None and response.handoff is not None:
        runtime.waker.notify()  # turns of an open handoff: to its tickets, and to the live views
    if plan is not None:
        runtime.waker.notify()
        logger.info(
            "handoff opened",
            extra={
                "conversation": decided.conversation.id,
                "handoff": plan.handoff.id,
                "source": source,
            },
        )
    return response


def _write(
    runtime: Runtime,
    tx: Tx,
    source: str,
    event: Event,
    snapshot: Snapshot,
    decided: Decided,
    plan: Plan | None,
    answer: tuple[EventResponse, dict[str, Any]] | None,
) -> EventResponse:
    """Commit a decided event, after checking that nothing it read has changed (else ``_Raced``).

    ``answer``: the response and its stored form, made before the lock when no handoff opens."""
    first = tx.get_event(source, event.id)
    if first is not None:  # the same event, posted twice at once: the other one won
        return _replayed(runtime, source, event, first)
    if tx.get_conversation(event.conversation.id) != snapshot.conversation:
        raise _Raced()
    now = runtime.now()  # taken under the lock, so audit rows are in time order
    stamp = iso(now)
    conversation, decision = decided.conversation, decided.decision
    if snapshot.conversation is None:
        conversation.updated_at = stamp
        tx.insert_conversation(conversation)
    else:
        tx.update_conversation(conversation.id, **decided.changed, updated_at=stamp)
        conversation.updated_at = stamp
    inserted = tx.add_messages(decided.new_rows)
    last_seq = snapshot.transcript[-1].seq if snapshot.transcript else 0
    if [r.id for r in inserted] != [r.id for r in decided.new_rows] or (
        inserted and inserted[0].seq != last_seq + 1
    ):
        raise _Raced()  # messages arrived in between: the decision did not see them
    live.relay_customer_turns(tx, runtime, snapshot.conversation, inserted, now)
    if plan is not None:
        handoff = plan.handoff
        tx.insert_handoff(handoff)
        live.mark_opening(tx, handoff.id, inserted[-1].seq if inserted else last_seq, stamp)
        control.transition(
            tx,
            runtime.settings,
            conversation,
            PENDING,
            handoff_id=handoff.id,
            actor=f"policy:{decision.policy_version}",
            reason=", ".join(r.trigger for r in decision.reasons),
            now=now,
            extra={
                "team": handoff.team,
                "customer_message": plan.customer_message.text if plan.customer_message else None,
            },
        )
        outbox.write_all(tx, plan.outbound, now)
        timers.start(tx, runtime.settings, handoff, now)
        answer = _answer(runtime, event, decided, conversation, plan)
    assert answer is not None
    response, stored = answer
    tx.append_audit(
        at=stamp,
        action="decision",
        actor=f"policy:{decision.policy_version}",
        conversation_id=conversation.id,
        handoff_id=response.handoff.id if response.handoff else None,
        reason="escalate" if decision.escalate else "stay with bot",
        data=decided.audit_data,  # encoded before the lock: the messages inserted are new_rows
    )
    tx.put_event(source, event.id, conversation.id, stored, stamp)
    return response


def _answer(
    runtime: Runtime,
    event: Event,
    decided: Decided,
    conversation: ConversationRow,
    plan: Plan | None = None,
) -> tuple[EventResponse, dict[str, Any]]:
    """The answer to the event and the form it is stored in, for ``conversation`` as written."""
    handoff_ref = None
    if plan is not None:
        handoff_ref = HandoffRef(
            id=plan.handoff.id,
            status="open",
            url=links.inbox_url(runtime.base_url, plan.handoff.id),
        )
    elif conversation.handoff_id and conversation.owner != BOT:
        handoff_ref = HandoffRef(
            id=conversation.handoff_id,
            status=STATUS_FOR_OWNER[conversation.owner],  # type: ignore[arg-type]
            url=links.inbox_url(runtime.base_url, conversation.handoff_id),
        )
    response = EventResponse(
        event_id=event.id,
        duplicate=False,
        decision=decided.decision,
        control=control_of(conversation),
        handoff=handoff_ref,
        customer_message=plan.customer_message if plan else None,
    )
    return response, _stored_answer(response, decided)


def _encode_ahead(source: str, event: Event, decided: Decided) -> None:
    """Dump the final decision once, and encode what the decision's audit row holds, before the
    write transaction: ``_write`` only checks that the messages it inserts are ``new_rows``."""
    decision, rows = decided.decision, decided.new_rows
    decided.decision_json = decision.model_dump(mode="json")
    # one encoding of the decision serves the audit row (canonical) and the stored answer
    decided.decision_text = canonical_json(decided.decision_json)
    rest = {
        "event_id": event.id,
        "event_type": event.type,
        "source": source,
        "new_messages": [r.id for r in rows],
        "inputs_digest": decided.inputs_digest,
        "new_messages_digest": audit.digest([[r.id, r.role, r.text] for r in rows]),
        "rules_fired": [r.rule for r in decision.reasons],
        "policy_version": decision.policy_version,
    }
    decided.audit_data = Encoded({**rest, "decision": decided.decision_json})
    # canonical JSON sorts the keys, and "decision" sorts before every other one
    decided.audit_data.canonical = (
        f'{{"decision":{decided.decision_text},{canonical_json(rest)[1:]}'
    )


def _stored_answer(response: EventResponse, decided: Decided) -> dict[str, Any]:
    """The answer as kept for repeats of the event (it holds no credential: see ``HandoffRef``):
    ``response.model_dump(mode="json")``, with the decision as dumped and encoded once (its keys
    sorted, as in the audit row)."""
    rest = response.model_dump(mode="json", exclude={"decision"})
    head = {"event_id": rest.pop("event_id"), "duplicate": rest.pop("duplicate")}
    answer = Encoded({**head, "decision": decided.decision_json, **rest})
    answer.compact = (
        f'{compact_json(head)[:-1]},"decision":{decided.decision_text},{compact_json(rest)[1:]}'
    )
    return answer


def _replayed(runtime: Runtime, source: str, event: Event, first: dict[str, Any]) -> EventResponse:
    """The first answer to an event, again: same decision, control and handoff.

    Answers stored before bots stopped getting widget links hold ``widget_url: null``: the handoff
    reference is rebuilt from its id, so every stored row still loads back.
    """
    metrics.safely(runtime, lambda m: m.events.labels(source, event.type, "true").inc())
    answer = {**first, "duplicate": True}
    if answer.get("handoff"):
        ref = answer["handoff"]
        answer["handoff"] = {
            "id": ref["id"],
            "status": ref["status"],
            "url": links.inbox_url(runtime.base_url, ref["id"]),
        }
    return EventResponse.model_validate(answer)


def _count_decision(
    runtime: Runtime, source: str, event: Event, decision: Decision, escalated: bool
) -> None:
    def count(m: metrics.Metrics) -> None:
        m.events.labels(source, event.type, "false").inc()
        for reason in decision.reasons:
            m.decisions.labels(reason.trigger, str(decision.escalate).lower()).inc()
        if escalated:
            first = decision.reasons[0].trigger if decision.reasons else "none"
            m.handoffs.labels(decision.team or "-", first).inc()

    metrics.safely(runtime, count)


def get_control(runtime: Runtime, conversation_id: str, *, source: str | None = None) -> Control:
    """Who owns the conversation now. ``source``: only that bot source's conversations (else 404)."""
    with runtime.store.reading() as tx:
        conversation = tx.get_conversation(conversation_id)
    if conversation is None or (source is not None and conversation.source != source):
        raise NotFound(
            f"no conversation {conversation_id!r} for this source", slug="unknown-conversation"
        )
    return control_of(conversation)


def send_bot_reply(
    runtime: Runtime, source: str, conversation_id: str, reply: BotReply
) -> BotReplyResponse:
    """The send gate: record the bot's reply unless an agent owns the conversation (then 409).

    While the handoff waits (``pending_agent``) no human is talking yet, and the bot is what keeps
    the customer informed about the wait, so it may still send; once an agent has taken over it
    may not, which is what makes double replies impossible.
    """
    now = runtime.now()
    with runtime.store.atomic() as tx:
        conversation = tx.get_conversation(conversation_id)
        if conversation is None or conversation.source != source:
            raise NotFound(
                f"no conversation {conversation_id!r} for this source", slug="unknown-conversation"
            )
        if conversation.owner == AGENT:
            raise Conflict(
                f"the conversation is owned by {conversation.owner}; the bot must not reply",
                slug="agent-owns-conversation",
                errors=[{"control": control_of(conversation).model_dump(mode="json")}],
            )
        message_id = reply.id or "bot-" + uuid.uuid4().hex[:16]
        # built as the Message it will be read back as, so it always loads back
        message = Message(id=message_id, role="bot", text=reply.text, at=reply.at or now)
        limits.check_conversation(
            len(tx.list_messages(conversation_id)) + 1, runtime.settings.limits
        )
        tx.add_messages([message_row(conversation_id, message)])
    return BotReplyResponse(accepted=True, message_id=message_id, control=control_of(conversation))


def _handoff_and_conversation(tx: Tx, handoff_id: str) -> tuple[HandoffRow, ConversationRow]:
    handoff = tx.get_handoff(handoff_id)
    if handoff is None:
        raise NotFound(f"no handoff {handoff_id!r}", slug="unknown-handoff")
    conversation = tx.get_conversation(handoff.conversation_id)
    assert conversation is not None
    return handoff, conversation


AfterCommit = list[Callable[[], None]]  # what an operation does once its transaction commits


def run_after(after: AfterCommit) -> None:
    for action in after:
        action()


def claim(runtime: Runtime, handoff_id: str, body: Claim) -> Control:
    """An agent takes over: pending_agent → agent. Claiming again as the same agent is a no-op."""
    after: AfterCommit = []
    with runtime.store.atomic() as tx:
        result = claim_in(runtime, tx, handoff_id, body, after)
    run_after(after)
    return result


def claim_in(runtime: Runtime, tx: Tx, handoff_id: str, body: Claim, after: AfterCommit) -> Control:
    """``claim`` in the caller's transaction; what follows the commit goes to ``after``."""
    now = runtime.now()
    handoff, conversation = _handoff_and_conversation(tx, handoff_id)
    if conversation.handoff_id != handoff_id or conversation.owner == BOT:
        raise Conflict("this handoff is no longer open", slug="handoff-not-open")
    if conversation.owner == AGENT:
        if handoff.claimed_by == body.actor:
            return control_of(conversation)
        raise Conflict(f"already taken over by {handoff.claimed_by}", slug="already-claimed")
    control.transition(
        tx,
        runtime.settings,
        conversation,
        AGENT,
        handoff_id=handoff_id,
        actor=body.actor,
        reason="agent took over",
        now=now,
    )
    tx.update_handoff(handoff_id, status="with_agent", claimed_by=body.actor, updated_at=iso(now))
    live.bridge_join(tx, runtime, handoff, conversation, body.actor, now)
    waited = _agent_responded(tx, handoff, body.actor, now, via="claim")
    after += [
        lambda: logger.info(
            "handoff claimed",
            extra={
                "conversation": conversation.id,
                "handoff": handoff_id,
                "source": handoff.source,
                "agent": body.actor,
            },
        ),
        lambda: _observe_first_response(runtime, handoff, waited),
        runtime.waker.notify,
    ]
    return control_of(conversation)


def handback(runtime: Runtime, handoff_id: str, body: Handback) -> Control:
    """The agent gives the conversation back to the bot, with a note the bot can resume from."""
    after: AfterCommit = []
    with runtime.store.atomic() as tx:
        result = handback_in(runtime, tx, handoff_id, body, after)
    run_after(after)
    return result


def handback_in(
    runtime: Runtime, tx: Tx, handoff_id: str, body: Handback, after: AfterCommit
) -> Control:
    """``handback`` in the caller's transaction; what follows the commit goes to ``after``."""
    now = runtime.now()
    stamp = iso(now)
    handoff, conversation = _handoff_and_conversation(tx, handoff_id)
    if conversation.handoff_id != handoff_id or conversation.owner == BOT:
        raise Conflict(
            "this handoff is not with an agent; nothing to hand back", slug="handoff-not-open"
        )
    timers.stop(
        tx, handoff_id, now, actor=body.actor, reason="handed back", conversation_id=conversation.id
    )
    live.bridge_handback(tx, runtime, handoff, conversation, body.actor, now)
    control.hand_back(
        tx,
        runtime.settings,
        conversation,
        handoff_id,
        actor=body.actor,
        note=body.note,
        resolution=body.resolution,
        resume_hint=body.resume_hint,
        reason="handback",
        now=now,
        destination_note=f"Handed back to the bot by {body.actor}: {body.note}",
    )
    tx.append_audit(
        at=stamp,
        action="handback",
        actor=body.actor,
        conversation_id=conversation.id,
        handoff_id=handoff_id,
        reason=body.resolution or "handed back",
        data={"note_chars": len(body.note), "resume_hint": body.resume_hint},
    )
    after += [
        lambda: logger.info(
            "handoff handed back",
            extra={
                "conversation": conversation.id,
                "handoff": handoff_id,
                "source": handoff.source,
                "agent": body.actor,
            },
        ),
        runtime.waker.notify,
        lambda: metrics.safely(runtime, lambda m: m.handbacks.labels("agent").inc()),
    ]
    return control_of(conversation)


# --- what the helpdesk tells us (called by the webhook handlers and the widget) ------------------


def _agent_responded(
    tx: Tx, handoff: HandoffRow, actor: str, at: datetime, *, via: str
) -> float | None:
    """Stop the response window and record the first response once; return its seconds if new."""
    timers.stop(
        tx,
        handoff.id,
        at,
        actor=actor,
        reason=f"agent responded ({via})",
        conversation_id=handoff.conversation_id,
    )
    seconds = (at - datetime.fromisoformat(handoff.created_at)).total_seconds()
    data = {"actor": actor, "via": via, "seconds": max(0.0, seconds)}
    if seconds < 0:
        data["clock_skew_seconds"] = seconds  # the clock went back: count it as immediate, say so
    if tx.add_fact(handoff.id, "first_response", iso(at), data, once=True):
        return max(0.0, seconds)
    return None


def _observe_first_response(runtime: Runtime, handoff: HandoffRow, seconds: float | None) -> None:
    if seconds is not None:
        metrics.safely(
            runtime, lambda m: m.first_response.labels(handoff.team or "-").observe(seconds)
        )


def record_agent_reply(
    runtime: Runtime, handoff_id: str, actor: str, at: datetime | None = None
) -> Control:
    """An agent replied in the helpdesk: pending_agent → agent, timers stop, first response noted.

    Safe to call for every reply: later replies only append an audit row.
    """
    after: AfterCommit = []
    with runtime.store.atomic() as tx:
        result = record_agent_reply_in(runtime, tx, handoff_id, actor, at, after)
    run_after(after)
    return result


def record_agent_reply_in(
    runtime: Runtime, tx: Tx, handoff_id: str, actor: str, at: datetime | None, after: AfterCommit
) -> Control:
    """``record_agent_reply`` in the caller's transaction."""
    now = runtime.now()
    at = at or now
    handoff, conversation = _handoff_and_conversation(tx, handoff_id)
    if conversation.handoff_id == handoff_id and conversation.owner == PENDING:
        control.transition(
            tx,
            runtime.settings,
            conversation,
            AGENT,
            handoff_id=handoff_id,
            actor=actor,
            reason="agent replied",
            now=now,
        )
        tx.update_handoff(
            handoff_id,
            status="with_agent",
            claimed_by=handoff.claimed_by or actor,
            updated_at=iso(now),
        )
        live.bridge_join(tx, runtime, handoff, conversation, actor, now)
    waited = _agent_responded(tx, handoff, actor, at, via="reply")
    tx.append_audit(
        at=iso(now),
        action="agent.replied",
        actor=actor,
        conversation_id=conversation.id,
        handoff_id=handoff_id,
        reason="agent replied in the helpdesk",
        data={"at": iso(at), "first": waited is not None},
    )
    after += [lambda: _observe_first_response(runtime, handoff, waited), runtime.waker.notify]
    return control_of(conversation)


def record_reassignment(
    runtime: Runtime,
    handoff_id: str,
    from_team: str | None,
    to_team: str,
    actor: str = "helpdesk",
    at: datetime | None = None,
) -> None:
    """The helpdesk moved the handoff to another team: a routing miss (routing accuracy KPI)."""
    with runtime.store.atomic() as tx:
        record_reassignment_in(runtime, tx, handoff_id, from_team, to_team, actor=actor, at=at)


def record_reassignment_in(
    runtime: Runtime,
    tx: Tx,
    handoff_id: str,
    from_team: str | None,
    to_team: str,
    *,
    actor: str = "helpdesk",
    at: datetime | None = None,
) -> None:
    """``record_reassignment`` in the caller's transaction."""
    now = runtime.now()
    at = at or now
    handoff, conversation = _handoff_and_conversation(tx, handoff_id)
    from_team = from_team or handoff.team
    if from_team == to_team:
        return
    tx.add_fact(
        handoff_id,
        "reassigned",
        iso(at),
        {"from_team": from_team, "to_team": to_team, "actor": actor},
    )
    tx.update_handoff(handoff_id, team=to_team, updated_at=iso(now))
    tx.append_audit(
        at=iso(now),
        action="reassigned",
        actor=actor,
        conversation_id=conversation.id,
        handoff_id=handoff_id,
        reason=f"moved from {from_team} to {to_team}",
        data={"from_team": from_team, "to_team": to_team},
    )


def record_csat(
    runtime: Runtime,
    handoff_id: str,
    score: float,
    *,
    scale: float = 5,
    actor: str = "helpdesk",
    at: datetime | None = None,
) -> None:
    """Post-escalation customer satisfaction, as the helpdesk reports it."""
    if not 0 <= score <= scale:
        raise ValueError(f"CSAT score {score} is outside 0..{scale}")
    now = runtime.now()
    with runtime.store.atomic() as tx:
        handoff, conversation = _handoff_and_conversation(tx, handoff_id)
        tx.add_fact(
            handoff_id, "csat", iso(at or now), {"score": score, "scale": scale, "actor": actor}
        )
        tx.append_audit(
            at=iso(now),
            action="csat.reported",
            actor=actor,
            conversation_id=conversation.id,
            handoff_id=handoff_id,
            reason=f"CSAT {score}/{scale}",
            data={"score": score, "scale": scale},
        )
