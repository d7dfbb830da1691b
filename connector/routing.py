"""Routing: which team and queue get a handoff, and what the customer is told about waiting.

Pure: the decision, the customer, the transcript, the settings, ``now`` and the teams' recent
first-response times in; routing metadata and an honest customer message out.

- Team: the deciding rule's team; else the bot's intent when it names a team (``billing.refund``
  → billing); else the team keywords on the customer's last turns; else the learned model's
  proposal when it reached its threshold; else the example-phrase classifier; else the default.
- Availability: a team with no ``hours`` is always staffed; otherwise it is open inside its hours
  in its own time zone, covered by ``on_call`` outside them, or unavailable. Its ``holidays``
  (whole days in its time zone) are closed whatever the hours say.
- Wait: a high percentile of the team's recent first responses (we would rather say 8 and answer
  in 5); the team's ``wait_minutes`` when there is too little history.
- Nobody available: the handoff waits for the team, and the message says so once: someone will
  answer from the next opening time (or by e-mail when none is known), with a call back or an
  e-mail offered then. It never pretends someone is being connected.
- Time to respond counts the team's open minutes (``business_deadline``): ``respond_by`` and the
  response windows of ``connector/timers.py`` both use ``covered_deadline``, so they agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from connector.learned.advice import proposed_team
from connector.policy_config import PRIORITIES
from connector.routing_config import RoutingSettings, TeamSettings, parse_hours
from connector.routing_messages import local_time
from connector.schemas import BotContext, Customer, CustomerMessage, Decision, Routing
from connector.signals import classify_team
from connector.signals.intent import (
    DEFAULT_TEAM_EXAMPLES,
    DEFAULT_TEAM_KEYWORDS,
    DEFAULT_TEAM_KEYWORDS_BY_LANGUAGE,
)
from connector.signals.lexicon import term_language
from connector.signals.text import customer_texts


@dataclass(frozen=True)
class TeamGuessResult:
    team: str
    source: str  # rule | model | bot | keywords | examples | default
    confidence: float | None = None
    evidence: tuple[str, ...] = ()


def _intent_name(
    bot: BotContext | None, messages: Sequence[Any]
) -> tuple[str | None, float | None]:
    if bot is not None and bot.intent is not None:
        return bot.intent.name, bot.intent.confidence
    for message in reversed(messages):
        if getattr(message, "intent", None):
            return message.intent, getattr(message, "confidence", None)
    return None, None


def guess_team(
    decision: Decision | None,
    messages: Sequence[Any],
    settings: RoutingSettings,
    bot: BotContext | None = None,
) -> TeamGuessResult:
    """Which team takes the conversation; see the module docstring for the order."""
    if decision is not None and decision.team in settings.teams:
        return TeamGuessResult(
            decision.team,  # type: ignore[arg-type]
            "rule",
            1.0,
            (f"rule {decision.rule} names team {decision.team}",),
        )
    name, confidence = _intent_name(bot, messages)
    if name:
        for key in (name, name.split(".")[0], name.split("_")[0]):
            if key in settings.teams:
                return TeamGuessResult(key, "bot", confidence, (f"bot intent {name}",))
    keywords = {
        t: tuple(s.keywords if s.keywords is not None else DEFAULT_TEAM_KEYWORDS.get(t, ()))
        for t, s in settings.teams.items()
    }
    examples = {
        t: tuple(s.examples if s.examples is not None else DEFAULT_TEAM_EXAMPLES.get(t, ()))
        for t, s in settings.teams.items()
    }
    guess = classify_team(
        "\n".join(customer_texts(messages, last=2)),
        keywords=keywords,
        examples=examples,
        default_team=settings.default_team,
    )
    if guess.source != "keywords" and decision is not None:
        # No rule, bot intent or team keyword named the team: the learned model's proposal, when
        # it reached its threshold (connector.learned.advice), beats the word-count guess.
        proposal = proposed_team(decision.learned)
        if proposal is not None and proposal[0] in settings.teams:
            return TeamGuessResult(proposal[0], "model", proposal[1], (proposal[2],))
    evidence = guess.matched
    if guess.source == "keywords" and settings.teams[guess.team].keywords is None:
        # built-in keywords: say which language each matched word was read in
        by_language = DEFAULT_TEAM_KEYWORDS_BY_LANGUAGE.get(guess.team, {})
        evidence = tuple(
            f"{word} ({lang})" if (lang := term_language(word, by_language)) else word
            for word in guess.matched
        )
    return TeamGuessResult(guess.team, guess.source, guess.confidence, evidence)


# --- availability -----------------------------------------------------------------------------


HORIZON_DAYS = 60  # how far ahead an opening is looked for (holidays can close a team for weeks)
Spans = tuple[tuple[frozenset[int], int, int], ...]  # (weekdays 0-6, start minute, end minute)
_ALL_WEEK: Spans = ((frozenset(range(7)), 0, 24 * 60),)


@lru_cache(maxsize=256)
def _parsed_hours(hours: tuple[str, ...]) -> Spans:
    # Cached by the text of the hours: every escalation to a team with hours reads them, and the
    # same few strings come back each time.
    return tuple((frozenset(days), start, end) for days, start, end in map(parse_hours, hours))


def _spans(team: TeamSettings) -> Spans:
    return _parsed_hours(tuple(team.hours)) if team.hours else _ALL_WEEK


def _always_staffed(team: TeamSettings) -> bool:
    return not team.hours and not team.holidays


def _day_spans(team: TeamSettings, spans: Spans, day: date) -> list[tuple[int, int]]:
    """The team's open spans on ``day`` (minutes from local midnight, sorted); none on a holiday."""
    if day in team.holidays:
        return []
    return sorted((start, end) for days, start, end in spans if day.weekday() in days)


def is_open(team: TeamSettings, now: datetime) -> bool:
    """Inside the team's hours and not on one of its holidays, in its own time zone (no hours
    and no holidays: always staffed)."""
    if _always_staffed(team):
        return True
    local = now.astimezone(ZoneInfo(team.timezone))
    minute = local.hour * 60 + local.minute
    return any(s <= minute < e for s, e in _day_spans(team, _spans(team), local.date()))


def next_opening(team: TeamSettings, now: datetime) -> datetime | None:
    """The next time the team's hours begin (``now`` when open), in the team's time zone."""
    zone = ZoneInfo(team.timezone)
    local = now.astimezone(zone)
    if is_open(team, now):
        return local
    spans = _spans(team)
    for ahead in range(HORIZON_DAYS):
        day = (local + timedelta(days=ahead)).date()
        for start, _ in _day_spans(team, spans, day):
            candidate = datetime(day.year, day.month, day.day, start // 60, start % 60, tzinfo=zone)
            if candidate > local:
                return candidate
    return None


def business_deadline(team: TeamSettings | None, start: datetime, minutes: float) -> datetime:
    """``start`` plus ``minutes`` of the team's open time (its hours, in its time zone): a window
    that starts at night counts from the opening, and holidays count nothing. No team, or no hours
    and no holidays: plain minutes. Hours that never open within ``HORIZON_DAYS`` (a config with
    no usable span) also fall back to plain minutes."""
    if team is None or _always_staffed(team) or minutes <= 0:
        return start + timedelta(minutes=minutes)
    zone = ZoneInfo(team.timezone)
    local = start.astimezone(zone)
    left = timedelta(minutes=minutes)
    cursor = local
    spans = _spans(team)
    for ahead in range(HORIZON_DAYS):
        day = (local + timedelta(days=ahead)).date()
        for s, e in _day_spans(team, spans, day):
            begin = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(minutes=s)
            end = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(minutes=e)
            begin = max(begin, cursor)  # overlapping spans count once
            if end <= begin:
                continue
            # elapsed time in UTC, so a DST change inside a span counts real minutes
            room = end.astimezone(UTC) - begin.astimezone(UTC)
            if left <= room:
                return (begin.astimezone(UTC) + left).astimezone(start.tzinfo)
            left -= room
            cursor = end
    return start + timedelta(minutes=minutes)


def covered_deadline(team: TeamSettings | None, start: datetime, minutes: float) -> datetime:
    """When ``minutes`` of someone's attention have passed: a team with ``on_call`` is covered
    around the clock (plain minutes), any other counts its open minutes (``business_deadline``)."""
    if team is not None and team.on_call:
        return start + timedelta(minutes=minutes)
    return business_deadline(team, start, minutes)


def closes_first(now: datetime, wait: float | None, respond_by: datetime) -> bool:
    """Whether the told wait runs past the team's closing: the respond-by time (open minutes) falls
    later than the wait in plain minutes would, by more than a minute."""
    return wait is not None and respond_by > now + timedelta(minutes=wait + 1)


def estimate_wait(
    history: Sequence[float] | None, team: TeamSettings, settings: RoutingSettings
) -> tuple[int, str]:
    """(minutes, basis): a percentile of recent first responses (minutes), else the fallback."""
    recent = [
        float(x) for x in (history or ())[-settings.wait_history :] if x is not None and x >= 0
    ]
    if len(recent) < settings.wait_min_samples:
        return team.wait_minutes, "configured"
    recent.sort()
    rank = max(0, math.ceil(settings.wait_percentile / 100 * len(recent)) - 1)
    return max(
        1, math.ceil(recent[rank])
    ), f"p{settings.wait_percentile} of {len(recent)} recent first responses"


def _bump(priority: str, customer: Customer, settings: RoutingSettings) -> str:
    tags = {t.casefold() for t in customer.tags}
    vip = bool(tags & {t.casefold() for t in settings.priority_tags}) or (
        customer.tier is not None
        and customer.tier.casefold() in {t.casefold() for t in settings.priority_tiers}
    )
    if vip and priority in ("low", "normal"):
        return PRIORITIES[PRIORITIES.index(priority) + 1]
    return priority


def route(
    decision: Decision,
    customer: Customer,
    language: str | None,
    settings: RoutingSettings,
    now: datetime,
    *,
    messages: Sequence[Any] = (),
    bot: BotContext | None = None,
    first_responses: Mapping[str, Sequence[float]] | None = None,
    guess: TeamGuessResult | None = None,
) -> tuple[Routing, CustomerMessage]:
    """Routing metadata for the handoff and the message the bot should give the customer.

    ``first_responses`` maps a team to its recent first-response times in minutes, oldest first.
    ``guess`` is ``guess_team``'s answer when the caller already has it (it is not cheap).
    """
    if guess is None:
        guess = guess_team(decision, messages, settings, bot)
    team_name = guess.team if guess.team in settings.teams else settings.default_team
    team = settings.teams[team_name]
    lang = settings.message(language, "wait")[0]
    priority = _bump(decision.priority, customer, settings)
    skills = list(dict.fromkeys([*team.skills, *([f"language:{lang}"] if language else [])]))
    base: dict[str, Any] = dict(
        team=team_name,
        queue=decision.queue or team.queue,
        priority=priority,
        language=language,
        skills=skills,
        tier=customer.tier,
        tags=list(decision.tags),
        team_source=guess.source,
        team_confidence=guess.confidence,
        team_evidence=list(guess.evidence),
    )
    if is_open(team, now):
        wait, basis = estimate_wait((first_responses or {}).get(team_name), team, settings)
        text, callback_at, available, on_call = settings.message(lang, "wait")[1], None, True, None
    elif team.on_call:
        wait, basis = team.on_call_wait_minutes, f"on call: {team.on_call}"
        text, callback_at, available, on_call = (
            settings.message(lang, "on_call")[1],
            None,
            True,
            team.on_call,
        )
    else:  # the handoff waits for the team: say once when someone will answer
        opening = next_opening(team, now)
        wait, basis = None, "nobody available"  # type: ignore[assignment]
        text = settings.message(lang, "after_hours" if opening else "after_hours_email")[1]
        callback_at, available, on_call = opening, False, None
    callback_time = local_time(callback_at, team.timezone, lang) if callback_at else ""
    # the same clock as the response windows (connector/timers.py): open minutes, or on call
    respond_by = covered_deadline(team, now, wait) if wait is not None else callback_at
    if respond_by and closes_first(now, wait, respond_by):  # closed before the wait is up: say so
        text = settings.message(lang, "wait_closing")[1]
        callback_time = local_time(respond_by, team.timezone, lang)
    routing = Routing(
        **base,
        available=available,
        on_call=on_call,
        wait_minutes=wait,
        wait_basis=basis,
        callback_at=callback_at,
        respond_by=respond_by,
    )
    message = CustomerMessage(
        text=text.format(
            wait=wait if wait is not None else "", callback_time=callback_time, team=team_name
        ),
        wait_minutes=wait,
        callback_offered=not available,
        callback_at=callback_at,
        language=lang,
    )
    return routing, message
