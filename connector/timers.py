"""Agent response windows: nobody waits silently.

When a handoff opens, a ``response_window`` timer row is written in the same transaction
(``start``). If it expires before an agent replies or takes over, the worker fires it
(``fire_due``): an internal note and a priority bump in the helpdesk, an alert, and an honest
``customer.update`` callback to the bot (still waiting, about N minutes, or a callback offer); then
the next window starts. Windows count the open minutes of the handoff's team (its hours and
holidays, ``routing.covered_deadline``): a window that starts at night ends that many minutes
after the team opens, and a team with ``on_call`` counts plain minutes. After
``max_reminders`` reminders the next expiry applies the fallback: ``route_to_team`` (once; a
second round ends in a handback) or ``handback`` to the bot with an apology and a callback
promise. ``stop`` cancels a handoff's timers; the service calls it on claim,
agent reply and handback.

Firing is one transaction: a conditional ``UPDATE ... WHERE status='pending'`` claims the timer,
and every effect of the firing is a row written in that same transaction (outbox rows, audit, the
next timer). Of two workers only one claim succeeds; a crash rolls the claim back with the effects,
so a reminder fires exactly once, and no lease is needed as for outbox rows that call out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connector import control, metrics, outbox
from connector.alerts import alerts_for
from connector.clock import iso
from connector.config import FallbackSettings, Settings
from connector.control import PENDING
from connector.routing import covered_deadline
from connector.routing_config import RoutingSettings
from connector.routing_messages import local_time
from connector.store import HandoffRow, Tx
from connector.store.base import TimerRow

if TYPE_CHECKING:  # the runtime is handed in; importing it would pull in the vendor layer
    from connector.runtime import Runtime

logger = logging.getLogger(__name__)

KIND = "response_window"
ACTOR = "connector:timer"
PRIORITIES = ("low", "normal", "high", "urgent")


@dataclass(frozen=True)
class Window:
    minutes: float
    max_reminders: int
    fallback: FallbackSettings
    priority_bump: bool
    offer_callback: bool


def window_for(settings: Settings, team: str | None) -> Window:
    """The team's response window, its own keys over the defaults."""
    defaults = settings.reminders
    own = defaults.teams.get(team or "")
    return Window(
        minutes=(
            own.response_window_minutes
            if own and own.response_window_minutes
            else defaults.response_window_minutes
        ),
        max_reminders=(
            own.max_reminders if own and own.max_reminders is not None else defaults.max_reminders
        ),
        fallback=(own.fallback if own and own.fallback else defaults.fallback),
        priority_bump=defaults.priority_bump,
        offer_callback=defaults.offer_callback,
    )


def due_at(settings: Settings, team: str | None, start: datetime, minutes: float) -> datetime:
    """When a window of ``minutes`` opened at ``start`` ends: the team's open minutes."""
    return covered_deadline(settings.routing.teams.get(team or ""), start, minutes)


def bump(priority: str) -> str:
    index = PRIORITIES.index(priority) if priority in PRIORITIES else 1
    return PRIORITIES[min(index + 1, len(PRIORITIES) - 1)]


def handoff_language(handoff: HandoffRow) -> str | None:
    """The conversation's language as the handoff's payload recorded it (given or detected)."""
    customer = (handoff.payload or {}).get("customer") or {}
    language = customer.get("language")
    return language if isinstance(language, str) else None


def customer_update_text(
    *,
    step: int,
    max_reminders: int,
    window_minutes: float,
    offer_callback: bool,
    team: str | None,
    routing: RoutingSettings | None = None,
    language: str | None = None,
    later: str | None = None,
) -> tuple[str, bool]:
    """What the bot tells the customer when a window expires: true, specific, and no promises;
    in the conversation's language (``routing.messages``: ``reminder``, ``callback_offer``, and
    their ``*_later`` lines when ``later``, the local time of the next update, falls after the
    team's closing)."""
    minutes = max(1, round(window_minutes))
    routing = routing or RoutingSettings()
    offered = offer_callback and step >= max_reminders
    name = "callback_offer" if offered else "reminder"
    _, text = routing.message(language, f"{name}_later" if later else name)
    return text.format(wait=minutes, team=team or "support", callback_time=later or ""), offered


def _later(
    settings: Settings,
    team: str | None,
    now: datetime,
    due: datetime,
    minutes: float,
    language: str | None,
) -> str | None:
    """``due`` in the team's own time zone when the window crosses a closed stretch, else None."""
    if (due - now).total_seconds() <= minutes * 60 + 1:
        return None
    own = settings.routing.teams.get(team or "")
    return local_time(due, own.timezone if own else "UTC", language)


def _reroute_text(
    settings: Settings, handoff: HandoffRow, team: str, now: datetime, due: datetime, minutes: float
) -> str:
    """What the customer is told when their handoff moves to ``team``, in their language."""
    language = handoff_language(handoff)
    later = _later(settings, team, now, due, minutes, language)
    _, text = settings.routing.message(language, "reroute_later" if later else "reroute")
    return text.format(team=team, wait=max(1, round(minutes)), callback_time=later or "")


def start(
    tx: Tx, settings: Settings, handoff: HandoffRow, now: datetime, *, round: int = 1
) -> int | None:
    """Start the handoff's response window (in the caller's transaction)."""
    if not settings.reminders.enabled:
        return None
    window = window_for(settings, handoff.team)
    return tx.add_timer(
        handoff_id=handoff.id,
        conversation_id=handoff.conversation_id,
        kind=KIND,
        round=round,
        step=1,
        due_at=due_at(settings, handoff.team, now, window.minutes).timestamp(),
        now=now.timestamp(),
        data={"team": handoff.team},
    )


def stop(
    tx: Tx,
    handoff_id: str,
    now: datetime,
    *,
    actor: str,
    reason: str,
    conversation_id: str | None = None,
) -> int:
    """Cancel the handoff's pending timers; audit it when there were any."""
    cancelled = tx.cancel_timers(handoff_id, now.timestamp())
    if cancelled:
        tx.append_audit(
            at=iso(now),
            action="reminder.stopped",
            actor=actor,
            conversation_id=conversation_id,
            handoff_id=handoff_id,
            reason=reason,
            data={"timers": cancelled},
        )
    return cancelled


def fire_due(runtime, worker_id: str, limit: int = 100) -> int:  # type: ignore[no-untyped-def]
    """Fire every due timer (at most ``limit``), one transaction each; return how many fired."""
    fired = 0
    while fired < limit:
        now = runtime.now()
        with (
            runtime.store.reading() as tx
        ):  # a cheap read first: no write lock while nothing is due
            next_due = tx.next_timer_due_at()
        if next_due is None or next_due > now.timestamp():
            return fired
        outcome: tuple[str, str | None] | None = None
        with runtime.store.atomic() as tx:
            timer = tx.claim_due_timer(worker_id, now.timestamp())
            if timer is None:
                return fired
            outcome = _fire(runtime, tx, timer, now)
        fired += 1
        if outcome is not None:
            metrics.safely(runtime, lambda m, o=outcome: _count(m, *o))
    return fired


def _count(m: metrics.Metrics, kind: str, team: str | None) -> None:
    m.reminders.labels(team or "-", kind).inc()
    if kind == "handback":
        m.handbacks.labels("timeout").inc()


def _fire(runtime, tx: Tx, timer: TimerRow, now: datetime) -> tuple[str, str | None] | None:  # type: ignore[no-untyped-def]
    handoff = tx.get_handoff(timer.handoff_id)
    conversation = tx.get_conversation(timer.conversation_id)
    if (
        handoff is None
        or conversation is None
        or conversation.handoff_id != handoff.id
        or conversation.owner != PENDING
    ):
        return None  # an agent got there first (the stop raced this timer): nothing to do
    settings = runtime.settings
    window = window_for(settings, handoff.team)
    created = datetime.fromisoformat(handoff.created_at)
    waited = max(0, round((now - created).total_seconds() / 60))  # a clock that jumped back says 0
    if timer.step <= window.max_reminders:
        _remind(runtime, tx, timer, handoff, window, waited, now)
        return "reminder", handoff.team
    action = window.fallback.action
    target = window.fallback.team
    if action == "route_to_team" and (timer.round > 1 or target == handoff.team or target is None):
        action = "handback"  # one reroute only: a second unanswered round goes back to the bot
    if action == "route_to_team":
        assert target is not None
        _reroute(runtime, tx, timer, handoff, target, waited, now)
        return "reroute", handoff.team
    _handback(runtime, tx, conversation, handoff, waited, now, timer)
    return "handback", handoff.team


def _tell_customer(
    tx: Tx,
    settings: Settings,
    handoff: HandoffRow,
    key: str,
    text: str,
    next_at: datetime,
    *,
    offered: bool,
    waited: int,
    reminder: int,
    now: datetime,
) -> None:
    """Queue a ``customer.update`` callback: the bot relays ``text`` about the wait."""
    control.enqueue_callback(
        tx,
        settings,
        handoff.source,
        "customer.update",
        key=f"{handoff.id}:{key}",
        now=now,
        conversation_id=handoff.conversation_id,
        handoff_id=handoff.id,
        body={
            "conversation_id": handoff.conversation_id,
            "handoff_id": handoff.id,
            "text": text,
            "wait_minutes": max(1, round((next_at - now).total_seconds() / 60)),
            "next_update_at": iso(next_at),
            "callback_offered": offered,
            "waited_minutes": waited,
            "reminder": reminder,
        },
    )


def _tell_destinations(
    runtime: Runtime,
    tx: Tx,
    handoff: HandoffRow,
    occasion: str,
    note: str,
    fields: dict[str, Any],
    now: datetime,
) -> None:
    """Queue ``note`` for every destination of the handoff, and ``fields`` (when any) for those
    that can update a ticket."""
    ids = {"handoff_id": handoff.id, "conversation_id": handoff.conversation_id}
    messages: list[outbox.Outbound] = []
    for name in control.note_destinations(tx, runtime.settings, handoff.id):
        messages.append(outbox.Note(destination=name, occasion=occasion, text=note, **ids))
        if fields and runtime.can_update(name):
            messages.append(
                outbox.Update(destination=name, occasion=occasion, fields=fields, **ids)
            )
    outbox.write_all(tx, messages, now)


def _alert(
    tx: Tx,
    settings: Settings,
    event: str,
    handoff: HandoffRow,
    *,
    occasion: str,
    reason: str,
    now: datetime,
    extra: dict[str, Any],
) -> None:
    outbox.write_all(
        tx,
        alerts_for(
            settings, event, handoff, occasion=occasion, reason=reason, now=now, extra=extra
        ),
        now,
    )


def _remind(
    runtime,
    tx: Tx,
    timer: TimerRow,
    handoff: HandoffRow,
    window: Window,  # type: ignore[no-untyped-def]
    waited: int,
    now: datetime,
) -> None:
    stamp, ts = iso(now), now.timestamp()
    settings = runtime.settings
    step, total = timer.step, window.max_reminders
    priority = bump(handoff.priority) if window.priority_bump else handoff.priority
    if priority != handoff.priority:
        tx.update_handoff(handoff.id, priority=priority, updated_at=stamp)
    reason = f"no agent response after {waited} min (reminder {step} of {total})"
    note = (
        f"Reminder {step}/{total}: the customer has waited {waited} min and no agent has answered. "
        f"Priority is now {priority}."
    )
    _tell_destinations(
        runtime,
        tx,
        handoff,
        f"reminder:{handoff.id}:{timer.id}",
        note,
        {"priority": priority} if priority != handoff.priority else {},
        now,
    )
    handoff.priority = priority
    _alert(
        tx,
        settings,
        "reminder",
        handoff,
        occasion=f"{handoff.id}:{timer.id}",
        reason=reason,
        now=now,
        extra={"waited_minutes": waited, "reminder": step, "max_reminders": total},
    )
    due = due_at(settings, handoff.team, now, window.minutes)
    language = handoff_language(handoff)
    text, offered = customer_update_text(
        step=step,
        max_reminders=total,
        window_minutes=window.minutes,
        offer_callback=window.offer_callback,
        team=handoff.team,
        routing=settings.routing,
        language=language,
        later=_later(settings, handoff.team, now, due, window.minutes, language),
    )
    _tell_customer(
        tx,
        settings,
        handoff,
        f"reminder:{timer.id}",
        text,
        due,
        offered=offered,
        waited=waited,
        reminder=step,
        now=now,
    )
    tx.append_audit(
        at=stamp,
        action="reminder.sent",
        actor=ACTOR,
        conversation_id=handoff.conversation_id,
        handoff_id=handoff.id,
        reason=reason,
        data={
            "timer_id": timer.id,
            "step": step,
            "round": timer.round,
            "priority": priority,
            "callback_offered": offered,
            "team": handoff.team,
        },
    )
    tx.add_timer(
        handoff_id=handoff.id,
        conversation_id=handoff.conversation_id,
        kind=KIND,
        round=timer.round,
        step=step + 1,
        due_at=due.timestamp(),
        now=ts,
        data={"team": handoff.team},
    )


def _reroute(
    runtime,
    tx: Tx,
    timer: TimerRow,
    handoff: HandoffRow,
    team: str,
    waited: int,  # type: ignore[no-untyped-def]
    now: datetime,
) -> None:
    stamp = iso(now)
    settings = runtime.settings
    old_team = handoff.team
    team_settings = settings.routing.teams.get(team)
    queue = team_settings.queue if team_settings else None
    priority = bump(handoff.priority) if settings.reminders.priority_bump else handoff.priority
    tx.update_handoff(handoff.id, team=team, priority=priority, updated_at=stamp)
    reason = f"no agent response after {waited} min: moved from {old_team} to {team}"
    _tell_destinations(
        runtime,
        tx,
        handoff,
        f"fallback:{handoff.id}:{timer.id}",
        f"No agent on {old_team} answered in {waited} min; moved to {team}.",
        {"team": team, "queue": queue, "priority": priority},
        now,
    )
    tx.add_fact(
        handoff.id, "rerouted", stamp, {"from_team": old_team, "to_team": team, "by": ACTOR}
    )
    handoff.team, handoff.priority = team, priority
    _alert(
        tx,
        settings,
        "fallback",
        handoff,
        occasion=f"{handoff.id}:{timer.id}",
        reason=reason,
        now=now,
        extra={"waited_minutes": waited, "action": "route_to_team", "from_team": old_team},
    )
    window = window_for(settings, team)
    due = due_at(settings, team, now, window.minutes)
    _tell_customer(
        tx,
        settings,
        handoff,
        f"reroute:{timer.id}",
        _reroute_text(settings, handoff, team, now, due, window.minutes),
        due,
        offered=False,
        waited=waited,
        reminder=timer.step,
        now=now,
    )
    tx.append_audit(
        at=stamp,
        action="reminder.fallback",
        actor=ACTOR,
        conversation_id=handoff.conversation_id,
        handoff_id=handoff.id,
        reason=reason,
        data={
            "timer_id": timer.id,
            "action": "route_to_team",
            "from_team": old_team,
            "to_team": team,
            "priority": priority,
        },
    )
    start(tx, settings, handoff, now, round=timer.round + 1)


def _handback(
    runtime,
    tx: Tx,
    conversation,
    handoff: HandoffRow,
    waited: int,
    now: datetime,  # type: ignore[no-untyped-def]
    timer: TimerRow,
) -> None:
    stamp = iso(now)
    settings = runtime.settings
    reason = f"no agent response after {waited} min"
    apology = (
        "I'm sorry: nobody from our team has been able to pick this up yet. I've made a note and "
        "someone will get back to you as soon as they can. Meanwhile I'm here if I can help."
    )
    note = f"No agent answered within {waited} min; handed back to the bot, customer promised a callback."
    control.hand_back(
        tx,
        settings,
        conversation,
        handoff.id,
        actor=ACTOR,
        note=note,
        resolution="no_agent_response",
        resume_hint="apologise_and_promise_callback",
        reason=reason,
        now=now,
        destination_note=note,
        extra={
            "callback_promised": True,
            "customer_message": {"text": apology, "callback_offered": True},
        },
    )
    _alert(
        tx,
        settings,
        "fallback",
        handoff,
        occasion=f"{handoff.id}:{timer.id}",
        reason=reason,
        now=now,
        extra={"waited_minutes": waited, "action": "handback"},
    )
    tx.append_audit(
        at=stamp,
        action="handback",
        actor=ACTOR,
        conversation_id=conversation.id,
        handoff_id=handoff.id,
        reason=reason,
        data={"timer_id": timer.id, "resolution": "no_agent_response", "callback_promised": True},
    )
