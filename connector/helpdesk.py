"""What an agent did in a helpdesk, applied to the conversation: the one path every vendor uses.

Each vendor's ``parse_webhook`` turns its payload into ``HelpdeskEvent``s (and drops echoes of the
connector's own notes and updates); this module applies them through the same domain operations as
the API, so a Zendesk reply, an Intercom assignment and a widget click have the same effects.
A webhook the vendor sends twice is applied once: its id is recorded like a bot event's, in the
same transaction as its effect.
"""

from __future__ import annotations

import logging

from connector import live, service
from connector.clock import iso
from connector.errors import Conflict
from connector.runtime import Runtime
from connector.schemas import Claim, Handback
from connector.store import HandoffRow, Tx
from integrations.base import HelpdeskEvent

logger = logging.getLogger(__name__)


def apply_event(runtime: Runtime, vendor: str, event: HelpdeskEvent) -> str:
    """Apply one helpdesk event; return what happened, in a word, for the webhook's answer.

    The vendor's event id and the event's effect are written in one transaction: if the effect
    cannot be written (the store is busy), neither is the id, so the vendor's retry is applied
    rather than reported as a duplicate.
    """
    if not event.handoff_id:
        return "ignored: not a handoff of ours"
    with runtime.store.reading() as tx:
        if tx.get_handoff(event.handoff_id) is None:
            return "ignored: unknown handoff"
    after: service.AfterCommit = []
    with runtime.store.atomic() as tx:
        if event.raw_id:
            if tx.get_event(f"helpdesk:{vendor}", event.raw_id) is not None:
                return "duplicate"
            tx.put_event(
                f"helpdesk:{vendor}",
                event.raw_id,
                event.handoff_id,
                {"kind": event.kind},
                iso(runtime.now()),
            )
        handoff = tx.get_handoff(event.handoff_id)
        assert handoff is not None  # handoffs are never deleted
        try:
            outcome = _apply(runtime, tx, vendor, event, handoff, after)
        except Conflict as exc:
            # the conversation moved on (handed back already, claimed by someone else): nothing to
            # do. Every operation checks before it writes, so what this event did before stands.
            logger.info(
                "helpdesk event %s for %s not applied: %s", event.kind, handoff.id, exc.detail
            )
            outcome = f"ignored: {exc.detail}"
    service.run_after(after)
    return outcome


def _apply(
    runtime: Runtime,
    tx: Tx,
    vendor: str,
    event: HelpdeskEvent,
    handoff: HandoffRow,
    after: service.AfterCommit,
) -> str:
    actor = event.actor or f"{vendor} agent"
    if event.kind == "agent_assigned":
        if event.team and handoff.team and event.team != handoff.team:
            service.record_reassignment_in(runtime, tx, handoff.id, handoff.team, event.team)
        if handoff.status == "open":
            service.claim_in(runtime, tx, handoff.id, Claim(actor=actor), after)
        return "assigned"
    if event.kind == "reassigned":
        if not event.team:
            return "ignored: reassigned without a team"
        service.record_reassignment_in(runtime, tx, handoff.id, handoff.team, event.team)
        return "reassigned"
    if event.kind == "agent_replied":
        service.record_agent_reply_in(
            runtime, tx, handoff.id, actor, event.at or runtime.now(), after
        )
        if (
            event.text
        ):  # a public reply: the customer gets it through the bot (audit: agent.message)
            live.relay_helpdesk_reply_in(
                runtime,
                tx,
                vendor,
                handoff.id,
                actor=actor,
                text=event.text,
                reply_id=event.raw_id or f"{event.at}:{event.text}",
                after=after,
            )
        return "agent replied"
    if event.kind == "handback":
        note = (event.note or "").strip() or f"Handed back from {vendor} without a note."
        service.handback_in(
            runtime,
            tx,
            handoff.id,
            Handback(actor=actor, note=note, resolution="handed_back"),
            after,
        )
        return "handed back"
    if event.kind == "solved":
        if handoff.status in ("open", "with_agent"):
            service.handback_in(
                runtime,
                tx,
                handoff.id,
                Handback(
                    actor=actor, note=event.note or f"Solved in {vendor}.", resolution="solved"
                ),
                after,
            )
        return "solved"
    return "ignored: unknown kind"


def apply_events(runtime: Runtime, vendor: str, events: list[HelpdeskEvent]) -> list[str]:
    return [apply_event(runtime, vendor, event) for event in events]
